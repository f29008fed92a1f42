//! TCP MD5 signatures (RFC 2385) through Linux's `TCP_MD5SIG` socket option.
//!
//! The only unsafe code of the speaker: one `setsockopt` with the kernel's
//! `struct tcp_md5sig`, which the libc crate does not define. Set on a socket before
//! `connect` (the SYN is signed) or on a listening socket once per peer address (the
//! kernel then refuses unsigned or wrongly signed segments from that address).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd};

use socket2::SockAddr;

/// `TCP_MD5SIG_MAXKEYLEN` in linux/tcp.h.
pub const MAX_KEY_LEN: usize = 80;

/// `struct tcp_md5sig` from linux/tcp.h.
#[repr(C)]
struct TcpMd5Sig {
    tcpm_addr: libc::sockaddr_storage,
    tcpm_flags: u8,
    tcpm_prefixlen: u8,
    tcpm_keylen: u16,
    tcpm_ifindex: libc::c_int,
    tcpm_key: [u8; MAX_KEY_LEN],
}

/// Signs the connection to or from `peer` with `key` (an empty key removes it).
/// On an IPv6 socket an IPv4 peer is given as its IPv4-mapped address.
pub fn set_key(fd: BorrowedFd<'_>, socket_is_v6: bool, peer: IpAddr, key: &[u8]) -> io::Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "TCP MD5 keys are at most 80 bytes",
        ));
    }
    let peer = match peer {
        IpAddr::V4(a) if socket_is_v6 => IpAddr::V6(a.to_ipv6_mapped()),
        a => a,
    };
    let addr = SockAddr::from(SocketAddr::new(peer, 0));
    // SAFETY: all-zero is a valid value of this plain C struct (integers and arrays).
    let mut sig: TcpMd5Sig = unsafe { std::mem::zeroed() };
    // SAFETY: `addr` holds a sockaddr_in or sockaddr_in6 of `addr.len()` bytes, which is
    // at most the size of sockaddr_storage; the regions do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(
            addr.as_ptr().cast::<u8>(),
            (&raw mut sig.tcpm_addr).cast::<u8>(),
            addr.len() as usize,
        );
    }
    sig.tcpm_keylen = key.len() as u16;
    sig.tcpm_key[..key.len()].copy_from_slice(key);
    // SAFETY: `fd` is an open socket for the duration of the call, and the option value
    // points at a live `TcpMd5Sig` of exactly the length passed.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_MD5SIG,
            (&raw const sig).cast::<libc::c_void>(),
            std::mem::size_of::<TcpMd5Sig>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn the_struct_has_the_kernels_layout() {
        // 128 (sockaddr_storage) + 1 + 1 + 2 + 4 + 80
        assert_eq!(std::mem::size_of::<TcpMd5Sig>(), 216);
    }

    #[test]
    fn a_key_can_be_set_on_a_tcp_socket() {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        set_key(s.as_fd(), false, "192.0.2.2".parse().unwrap(), b"secret").unwrap();
        let s6 = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None).unwrap();
        set_key(s6.as_fd(), true, "192.0.2.2".parse().unwrap(), b"secret").unwrap();
        assert!(set_key(s.as_fd(), false, "192.0.2.2".parse().unwrap(), &[0; 81]).is_err());
    }
}
