//! TEMPORARY stand-in until the real BIRD backend lands: plain write + `reconfigure`.
use std::collections::BTreeSet;

use futures_util::future::BoxFuture;
use ipnet::IpNet;

use crate::announce::{ApplyError, Backend};
use crate::config::BirdSettings;

pub struct InterimBird {
    settings: BirdSettings,
}

impl InterimBird {
    pub fn new(settings: BirdSettings) -> Self {
        InterimBird { settings }
    }
}

pub fn read_announced(_settings: &BirdSettings) -> Result<BTreeSet<IpNet>, String> {
    Ok(BTreeSet::new())
}

impl Backend for InterimBird {
    fn apply<'a>(
        &'a mut self,
        desired: &'a BTreeSet<IpNet>,
    ) -> BoxFuture<'a, Result<(), ApplyError>> {
        Box::pin(async move {
            let v4: Vec<String> = desired
                .iter()
                .filter(|p| matches!(p, IpNet::V4(_)))
                .map(|p| p.to_string())
                .collect();
            let v6: Vec<String> = desired
                .iter()
                .filter(|p| matches!(p, IpNet::V6(_)))
                .map(|p| p.to_string())
                .collect();
            let text = format!(
                "define {} = [ {} ];\ndefine {} = [ {} ];\n",
                self.settings.set_name,
                v4.join(", "),
                self.settings.set_name6,
                v6.join(", ")
            );
            let tmp = self.settings.include_file.with_extension("tmp");
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, &self.settings.include_file)?;
            let mut argv = self.settings.reconfigure.clone();
            if let Some(sock) = &self.settings.control_socket {
                argv = vec![
                    "birdc".into(),
                    "-s".into(),
                    sock.display().to_string(),
                    "configure".into(),
                ];
            }
            let out = tokio::process::Command::new(&argv[0])
                .args(&argv[1..])
                .output()
                .await?;
            if !out.status.success() {
                return Err(format!(
                    "{}: {}",
                    argv.join(" "),
                    String::from_utf8_lossy(&out.stdout)
                )
                .into());
            }
            Ok(())
        })
    }
}
