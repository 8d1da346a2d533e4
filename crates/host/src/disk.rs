//! A phone's filesystem on the host's disk, under `phones/<id>/fs/`. Paths come in confined
//! ([`SandboxPath`]); on top of that no symlink is ever followed, so nothing placed inside can
//! point outside.

use std::io::Write;
use std::path::{Path, PathBuf};

use cloudphone_device::storage::{FsError, Metadata, SandboxPath, Storage};

/// The on-disk filesystem of one phone.
pub struct DiskStorage {
    root: PathBuf,
}

fn io_error(e: std::io::Error) -> FsError {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => FsError::NotFound,
        IsADirectory => FsError::IsADirectory,
        NotADirectory => FsError::NotADirectory,
        DirectoryNotEmpty => FsError::NotEmpty,
        AlreadyExists => FsError::Exists,
        _ => FsError::Io(e.to_string()),
    }
}

impl DiskStorage {
    /// A filesystem rooted at `root` (created if missing).
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<DiskStorage> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(DiskStorage { root })
    }

    /// The host path of `path`, checking that no existing component is a symlink.
    fn host_path(&self, path: &SandboxPath) -> Result<PathBuf, FsError> {
        let mut at = self.root.clone();
        let mut checking = true;
        for part in path.parts() {
            at.push(part);
            if checking {
                match std::fs::symlink_metadata(&at) {
                    Ok(m) if m.file_type().is_symlink() => return Err(FsError::PermissionDenied),
                    Ok(_) => {}
                    // Below a component that does not exist yet, nothing exists, links neither.
                    Err(_) => checking = false,
                }
            }
        }
        Ok(at)
    }
}

fn modified_ms(m: &std::fs::Metadata) -> u64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn require_dir(path: &Path) -> Result<(), FsError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(FsError::NotADirectory),
        Err(e) => Err(io_error(e)),
    }
}

impl Storage for DiskStorage {
    fn read(&self, path: &SandboxPath) -> Result<Vec<u8>, FsError> {
        let p = self.host_path(path)?;
        if std::fs::metadata(&p).map_err(io_error)?.is_dir() {
            return Err(FsError::IsADirectory);
        }
        std::fs::read(p).map_err(io_error)
    }

    fn write(&mut self, path: &SandboxPath, data: &[u8]) -> Result<(), FsError> {
        let p = self.host_path(path)?;
        require_dir(p.parent().unwrap_or(&self.root))?;
        if p.is_dir() {
            return Err(FsError::IsADirectory);
        }
        // Write beside, then rename: a crash leaves the old file or the new one.
        let tmp = p.with_file_name(format!(".{}.partial", path.name()));
        let mut file = std::fs::File::create(&tmp).map_err(io_error)?;
        file.write_all(data).and_then(|_| file.sync_all()).map_err(io_error)?;
        std::fs::rename(&tmp, &p).map_err(io_error)
    }

    fn append(&mut self, path: &SandboxPath, data: &[u8]) -> Result<(), FsError> {
        let p = self.host_path(path)?;
        require_dir(p.parent().unwrap_or(&self.root))?;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(p).map_err(io_error)?;
        file.write_all(data).map_err(io_error)
    }

    fn metadata(&self, path: &SandboxPath) -> Result<Metadata, FsError> {
        let m = std::fs::symlink_metadata(self.host_path(path)?).map_err(io_error)?;
        Ok(Metadata { is_dir: m.is_dir(), size: if m.is_dir() { 0 } else { m.len() }, modified_ms: modified_ms(&m) })
    }

    fn list(&self, dir: &SandboxPath) -> Result<Vec<String>, FsError> {
        let p = self.host_path(dir)?;
        require_dir(&p)?;
        let mut names: Vec<String> = std::fs::read_dir(p)
            .map_err(io_error)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            // Half-written files are not there yet.
            .filter(|n| !(n.starts_with('.') && n.ends_with(".partial")))
            .collect();
        names.sort();
        Ok(names)
    }

    fn create_dir_all(&mut self, path: &SandboxPath) -> Result<(), FsError> {
        let p = self.host_path(path)?;
        std::fs::create_dir_all(p).map_err(io_error)
    }

    fn remove(&mut self, path: &SandboxPath, recursive: bool) -> Result<(), FsError> {
        let p = self.host_path(path)?;
        let m = std::fs::symlink_metadata(&p).map_err(io_error)?;
        if m.is_dir() {
            if recursive { std::fs::remove_dir_all(p) } else { std::fs::remove_dir(p) }.map_err(io_error)
        } else {
            std::fs::remove_file(p).map_err(io_error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confined_and_no_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let mut fs = DiskStorage::new(dir.path().join("fs")).unwrap();
        let sd = SandboxPath::absolute("/sdcard");
        fs.create_dir_all(&sd).unwrap();
        fs.write(&sd.join("../../../../../escape.txt"), b"x").unwrap();
        assert!(!dir.path().join("escape.txt").exists(), "`..` stays inside the phone");
        assert!(dir.path().join("fs/escape.txt").exists());

        std::fs::write(dir.path().join("secret"), b"host secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), dir.path().join("fs/storage/emulated/0/link")).unwrap();
        assert_eq!(fs.read(&sd.join("link")), Err(FsError::PermissionDenied));
        std::os::unix::fs::symlink(dir.path(), dir.path().join("fs/storage/emulated/0/dirlink")).unwrap();
        assert_eq!(fs.read(&sd.join("dirlink/secret")), Err(FsError::PermissionDenied));
        assert_eq!(fs.write(&sd.join("dirlink/new"), b"x"), Err(FsError::PermissionDenied));
        assert!(!dir.path().join("new").exists());

        fs.write(&sd.join("a.txt"), b"1").unwrap();
        fs.append(&sd.join("a.txt"), b"2").unwrap();
        assert_eq!(fs.read(&sd.join("a.txt")).unwrap(), b"12");
        assert_eq!(fs.remove(&SandboxPath::absolute("/storage"), false), Err(FsError::NotEmpty));
        assert_eq!(fs.read(&sd.join("missing")), Err(FsError::NotFound));
    }
}
