//! A log file rotated by size, the way anycast-healthchecker (Python's
//! RotatingFileHandler) does it: when a line would take `FILE` past `max_bytes`, `FILE.N-1`
//! becomes `FILE.N` ... `FILE` becomes `FILE.1`, and at most `backups` old files are kept.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    backups: u32,
    file: File,
    size: u64,
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl RotatingFile {
    pub fn open(path: &Path, max_bytes: u64, backups: u32) -> io::Result<RotatingFile> {
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            max_bytes,
            backups,
            file,
            size,
        })
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.backups == 0 {
            std::fs::remove_file(&self.path).or_else(ignore_missing)?;
        } else {
            std::fs::remove_file(self.numbered(self.backups)).or_else(ignore_missing)?;
            for n in (1..self.backups).rev() {
                std::fs::rename(self.numbered(n), self.numbered(n + 1)).or_else(ignore_missing)?;
            }
            std::fs::rename(&self.path, self.numbered(1)).or_else(ignore_missing)?;
        }
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn ignore_missing(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.size > 0 && self.size + buf.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(buf)?;
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_backups_rotated_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warden.log");
        let mut log = RotatingFile::open(&path, 100, 3).unwrap();
        for i in 0..50 {
            // One write per line, as the log formatter does.
            log.write_all(format!("line {i:02} {}\n", "x".repeat(30)).as_bytes())
                .unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["warden.log", "warden.log.1", "warden.log.2", "warden.log.3"]
        );
        for name in &names {
            let len = std::fs::metadata(dir.path().join(name)).unwrap().len();
            assert!(len <= 100, "{name} has {len} bytes");
        }
        // The newest line is in the live file, the ones before it in .1, and no line is split.
        let live = std::fs::read_to_string(&path).unwrap();
        assert!(
            live.ends_with(&format!("line 49 {}\n", "x".repeat(30))),
            "{live}"
        );
        let older = std::fs::read_to_string(dir.path().join("warden.log.1")).unwrap();
        assert!(
            older
                .lines()
                .all(|l| l.starts_with("line ") && l.len() == 38),
            "{older}"
        );
    }

    #[test]
    fn zero_backups_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.log");
        let mut log = RotatingFile::open(&path, 10, 0).unwrap();
        log.write_all(b"0123456789").unwrap();
        log.write_all(b"abc").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "abc");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn continues_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.log");
        std::fs::write(&path, "12345678").unwrap();
        let mut log = RotatingFile::open(&path, 10, 1).unwrap();
        log.write_all(b"abc").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("w.log.1")).unwrap(),
            "12345678"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "abc");
    }
}
