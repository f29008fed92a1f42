//! A minimal HTTP/1.1 server inside a namespace for the `native` scenario: answers every
//! request with 200 "ok", keeps connections alive (as a real health endpoint would), and
//! runs on one thread with its own single-threaded runtime so it costs the machine little
//! next to the warden being measured.

use std::os::fd::AsFd;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

pub struct NsHttpServer {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NsHttpServer {
    /// Listens on 127.0.0.1:`port` in namespace `ns` until dropped.
    pub fn open(ns: &str, port: u16) -> NsHttpServer {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let ns_path = format!("/run/netns/{ns}");
        // setns(2) moves only the calling thread: the runtime lives on this one.
        let thread = std::thread::spawn(move || {
            let listener = (|| -> Result<std::net::TcpListener, String> {
                let file = std::fs::File::open(&ns_path).map_err(|e| format!("{ns_path}: {e}"))?;
                nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| format!("setns {ns_path}: {e}"))?;
                let l = std::net::TcpListener::bind(("127.0.0.1", port))
                    .map_err(|e| format!("bind {port}: {e}"))?;
                l.set_nonblocking(true).map_err(|e| e.to_string())?;
                Ok(l)
            })();
            let listener = match listener {
                Ok(l) => l,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let _ = ready_tx.send(Ok(()));
                let serve = async {
                    while let Ok((stream, _)) = listener.accept().await {
                        tokio::spawn(serve(stream));
                    }
                };
                tokio::select! {
                    () = serve => {}
                    _ = stop_rx => {}
                }
            });
        });
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("cannot serve HTTP in {ns}: {e}"),
            Err(e) => panic!("HTTP server in {ns} did not start: {e}"),
        }
        NsHttpServer {
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

/// Answers each request on a connection until the client closes it (also the
/// `http_check_cost` example's server).
pub async fn serve(mut stream: tokio::net::TcpStream) {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            if stream.write_all(reply).await.is_err() {
                return;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

impl Drop for NsHttpServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
