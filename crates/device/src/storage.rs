//! The phone's filesystem as the device model sees it: a port ([`Storage`]) the host plugs a
//! real directory into, and an in-memory one ([`MemStorage`]) for tests.
//!
//! Confinement is by construction: every path the model uses is a [`SandboxPath`], resolved
//! like a kernel would (`.`, `..` at `/` stays at `/`) and so always inside the phone's own
//! root. The disk implementation additionally refuses to follow symlinks.

use std::collections::BTreeMap;

/// A normalised absolute path inside the phone (`/storage/emulated/0/Download/a.txt`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SandboxPath {
    parts: Vec<String>,
}

/// Where `/sdcard` really lives, as on Android.
const PRIMARY_STORAGE: &[&str] = &["storage", "emulated", "0"];

/// Where the shell and apps may write; everything else is read-only.
const WRITABLE: &[&[&str]] =
    &[PRIMARY_STORAGE, &["data", "local", "tmp"], &["data", "data"], &["data", "app"], &["data", "system"]];

impl SandboxPath {
    /// The root `/`.
    pub fn root() -> SandboxPath {
        SandboxPath { parts: Vec::new() }
    }

    /// Resolves `input` (absolute, or relative to `cwd`). `/sdcard` and `/storage/self/primary`
    /// are the primary storage, as on Android.
    pub fn resolve(cwd: &SandboxPath, input: &str) -> SandboxPath {
        let mut parts = if input.starts_with('/') { Vec::new() } else { cwd.parts.clone() };
        for part in input.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p.to_owned()),
            }
        }
        let alias: Option<usize> = match parts.as_slice() {
            [a, ..] if a == "sdcard" => Some(1),
            [a, b, c, ..] if a == "storage" && b == "self" && c == "primary" => Some(3),
            _ => None,
        };
        if let Some(n) = alias {
            let mut real: Vec<String> = PRIMARY_STORAGE.iter().map(|s| (*s).to_owned()).collect();
            real.extend(parts.drain(n..));
            parts = real;
        }
        SandboxPath { parts }
    }

    /// Parses an absolute path.
    pub fn absolute(input: &str) -> SandboxPath {
        SandboxPath::resolve(&SandboxPath::root(), input)
    }

    /// The components.
    pub fn parts(&self) -> &[String] {
        &self.parts
    }

    /// The last component (`""` for the root).
    pub fn name(&self) -> &str {
        self.parts.last().map(String::as_str).unwrap_or("")
    }

    /// The parent directory (the root's parent is the root).
    pub fn parent(&self) -> SandboxPath {
        let mut parts = self.parts.clone();
        parts.pop();
        SandboxPath { parts }
    }

    /// A child path.
    pub fn join(&self, name: &str) -> SandboxPath {
        SandboxPath::resolve(self, name)
    }

    /// Whether the shell and apps may write here.
    pub fn writable(&self) -> bool {
        WRITABLE
            .iter()
            .any(|root| self.parts.len() >= root.len() && self.parts.iter().zip(root.iter()).all(|(a, b)| a == b))
    }

    /// Whether `self` is `other` or inside it.
    pub fn starts_with(&self, other: &SandboxPath) -> bool {
        self.parts.len() >= other.parts.len() && self.parts.iter().zip(&other.parts).all(|(a, b)| a == b)
    }
}

impl std::fmt::Display for SandboxPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.parts.is_empty() {
            return f.write_str("/");
        }
        for p in &self.parts {
            write!(f, "/{p}")?;
        }
        Ok(())
    }
}

/// Why a file operation failed, worded as Android's tools word it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FsError {
    /// ENOENT.
    #[error("No such file or directory")]
    NotFound,
    /// ENOTDIR.
    #[error("Not a directory")]
    NotADirectory,
    /// EISDIR.
    #[error("Is a directory")]
    IsADirectory,
    /// ENOTEMPTY.
    #[error("Directory not empty")]
    NotEmpty,
    /// EROFS: outside the writable areas.
    #[error("Read-only file system")]
    ReadOnly,
    /// EEXIST.
    #[error("File exists")]
    Exists,
    /// EACCES: the path crosses a symlink, which the sandbox never follows.
    #[error("Permission denied")]
    PermissionDenied,
    /// The disk failed.
    #[error("I/O error: {0}")]
    Io(String),
}

/// What a path is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// A directory?
    pub is_dir: bool,
    /// Size in bytes (0 for directories).
    pub size: u64,
    /// Last change, unix milliseconds.
    pub modified_ms: u64,
}

/// A phone's filesystem.
pub trait Storage: Send {
    /// The bytes of a file.
    fn read(&self, path: &SandboxPath) -> Result<Vec<u8>, FsError>;
    /// Creates or replaces a file; the parent directory must exist.
    fn write(&mut self, path: &SandboxPath, data: &[u8]) -> Result<(), FsError>;
    /// Appends to a file, creating it.
    fn append(&mut self, path: &SandboxPath, data: &[u8]) -> Result<(), FsError>;
    /// What a path is.
    fn metadata(&self, path: &SandboxPath) -> Result<Metadata, FsError>;
    /// The names in a directory, sorted.
    fn list(&self, dir: &SandboxPath) -> Result<Vec<String>, FsError>;
    /// Creates a directory and its missing parents.
    fn create_dir_all(&mut self, path: &SandboxPath) -> Result<(), FsError>;
    /// Removes a file, or a directory (with its contents when `recursive`).
    fn remove(&mut self, path: &SandboxPath, recursive: bool) -> Result<(), FsError>;
}

#[derive(Clone, Debug)]
enum Node {
    File(Vec<u8>, u64),
    Dir(u64),
}

/// A filesystem in memory (tests, examples).
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    nodes: BTreeMap<SandboxPath, Node>,
    clock: u64,
}

impl MemStorage {
    /// An empty filesystem with the root.
    pub fn new() -> MemStorage {
        let mut nodes = BTreeMap::new();
        nodes.insert(SandboxPath::root(), Node::Dir(0));
        MemStorage { nodes, clock: 0 }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn parent_is_dir(&self, path: &SandboxPath) -> Result<(), FsError> {
        match self.nodes.get(&path.parent()) {
            Some(Node::Dir(_)) => Ok(()),
            Some(Node::File(..)) => Err(FsError::NotADirectory),
            None => Err(FsError::NotFound),
        }
    }
}

impl Storage for MemStorage {
    fn read(&self, path: &SandboxPath) -> Result<Vec<u8>, FsError> {
        match self.nodes.get(path) {
            Some(Node::File(data, _)) => Ok(data.clone()),
            Some(Node::Dir(_)) => Err(FsError::IsADirectory),
            None => Err(FsError::NotFound),
        }
    }

    fn write(&mut self, path: &SandboxPath, data: &[u8]) -> Result<(), FsError> {
        self.parent_is_dir(path)?;
        if let Some(Node::Dir(_)) = self.nodes.get(path) {
            return Err(FsError::IsADirectory);
        }
        let t = self.tick();
        self.nodes.insert(path.clone(), Node::File(data.to_vec(), t));
        Ok(())
    }

    fn append(&mut self, path: &SandboxPath, data: &[u8]) -> Result<(), FsError> {
        let mut existing = match self.read(path) {
            Ok(d) => d,
            Err(FsError::NotFound) => Vec::new(),
            Err(e) => return Err(e),
        };
        existing.extend_from_slice(data);
        self.write(path, &existing)
    }

    fn metadata(&self, path: &SandboxPath) -> Result<Metadata, FsError> {
        match self.nodes.get(path) {
            Some(Node::File(data, t)) => Ok(Metadata { is_dir: false, size: data.len() as u64, modified_ms: *t }),
            Some(Node::Dir(t)) => Ok(Metadata { is_dir: true, size: 0, modified_ms: *t }),
            None => Err(FsError::NotFound),
        }
    }

    fn list(&self, dir: &SandboxPath) -> Result<Vec<String>, FsError> {
        match self.nodes.get(dir) {
            Some(Node::Dir(_)) => {}
            Some(Node::File(..)) => return Err(FsError::NotADirectory),
            None => return Err(FsError::NotFound),
        }
        let depth = dir.parts().len() + 1;
        Ok(self
            .nodes
            .keys()
            .filter(|p| p.parts().len() == depth && p.starts_with(dir))
            .map(|p| p.name().to_owned())
            .collect())
    }

    fn create_dir_all(&mut self, path: &SandboxPath) -> Result<(), FsError> {
        let mut at = SandboxPath::root();
        for part in path.parts() {
            at = at.join(part);
            match self.nodes.get(&at) {
                Some(Node::Dir(_)) => {}
                Some(Node::File(..)) => return Err(FsError::NotADirectory),
                None => {
                    let t = self.tick();
                    self.nodes.insert(at.clone(), Node::Dir(t));
                }
            }
        }
        Ok(())
    }

    fn remove(&mut self, path: &SandboxPath, recursive: bool) -> Result<(), FsError> {
        match self.nodes.get(path) {
            None => return Err(FsError::NotFound),
            Some(Node::Dir(_)) if !recursive && !self.list(path)?.is_empty() => return Err(FsError::NotEmpty),
            _ => {}
        }
        let doomed: Vec<SandboxPath> = self.nodes.keys().filter(|p| p.starts_with(path)).cloned().collect();
        for p in doomed {
            self.nodes.remove(&p);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_never_leave_the_root() {
        let cwd = SandboxPath::absolute("/data/local/tmp");
        assert_eq!(SandboxPath::resolve(&cwd, "../../../../etc/passwd").to_string(), "/etc/passwd");
        assert_eq!(SandboxPath::resolve(&cwd, "a/./b/../c").to_string(), "/data/local/tmp/a/c");
        assert_eq!(SandboxPath::absolute("/sdcard/Download/x").to_string(), "/storage/emulated/0/Download/x");
        assert_eq!(SandboxPath::absolute("/sdcard").to_string(), "/storage/emulated/0");
        assert_eq!(SandboxPath::absolute("/storage/self/primary/a").to_string(), "/storage/emulated/0/a");
        assert_eq!(SandboxPath::absolute("//..//").to_string(), "/");
        assert!(SandboxPath::absolute("/sdcard/x").writable());
        assert!(SandboxPath::absolute("/data/local/tmp/x").writable());
        assert!(!SandboxPath::absolute("/system/bin/sh").writable());
        assert!(!SandboxPath::absolute("/data/localx").writable());
    }

    #[test]
    fn mem_storage_behaves_like_a_filesystem() {
        let mut fs = MemStorage::new();
        let dir = SandboxPath::absolute("/sdcard/Download");
        let file = dir.join("a.txt");
        assert_eq!(fs.write(&file, b"x"), Err(FsError::NotFound));
        fs.create_dir_all(&dir).unwrap();
        fs.write(&file, b"hello").unwrap();
        fs.append(&file, b" world").unwrap();
        assert_eq!(fs.read(&file).unwrap(), b"hello world");
        assert_eq!(fs.list(&dir).unwrap(), vec!["a.txt"]);
        assert_eq!(fs.metadata(&file).unwrap().size, 11);
        assert_eq!(fs.remove(&dir, false), Err(FsError::NotEmpty));
        assert_eq!(fs.read(&dir), Err(FsError::IsADirectory));
        assert_eq!(fs.list(&file), Err(FsError::NotADirectory));
        fs.remove(&dir, true).unwrap();
        assert_eq!(fs.read(&file), Err(FsError::NotFound));
    }
}
