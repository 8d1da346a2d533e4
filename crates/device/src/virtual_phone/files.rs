//! The file commands of the shell (`ls`, `cat`, `rm`, `mkdir`, `touch`, `screencap`), with
//! toybox's output formats. The shell starts in `/`, as `adb shell` does.

use super::VirtualPhone;
use crate::storage::{FsError, Metadata, SandboxPath};
use crate::{Device, ShellOutput};

fn out(stdout: String, stderr: String, failed: bool) -> ShellOutput {
    ShellOutput { exit_code: i32::from(failed), stdout, stderr }
}

fn flags_and_paths<'a>(args: &[&'a str]) -> (String, Vec<&'a str>) {
    let mut flags = String::new();
    let mut paths = Vec::new();
    for a in args {
        match a.strip_prefix('-') {
            Some(f) if !f.is_empty() => flags.push_str(f),
            _ => paths.push(*a),
        }
    }
    (flags, paths)
}

fn long_line(name: &str, m: &Metadata, zone: &str) -> String {
    let (mode, links, size) = if m.is_dir { ("drwxrwx--x", 2, 4096) } else { ("-rw-rw----", 1, m.size) };
    format!("{mode} {links} root sdcard_rw {size:>8} {} {name}\n", crate::clock::ls_time(m.modified_ms, zone))
}

/// `ls [-l] [-a] [-1] [PATH...]`.
pub fn ls(phone: &mut VirtualPhone, args: &[&str]) -> ShellOutput {
    let (flags, mut paths) = flags_and_paths(args);
    let long = flags.contains('l');
    let zone = phone.timezone().to_owned();
    if paths.is_empty() {
        paths.push("/");
    }
    let (mut stdout, mut stderr, mut failed) = (String::new(), String::new(), false);
    let many = paths.len() > 1;
    for (i, shown) in paths.iter().enumerate() {
        let path = SandboxPath::absolute(shown);
        let storage = phone.storage();
        match storage.metadata(&path) {
            Err(e) => {
                stderr.push_str(&format!("ls: {shown}: {e}\n"));
                failed = true;
            }
            Ok(m) if !m.is_dir => {
                stdout.push_str(&if long { long_line(shown, &m, &zone) } else { format!("{shown}\n") });
            }
            Ok(_) => {
                if many {
                    stdout.push_str(&format!("{}{shown}:\n", if i > 0 { "\n" } else { "" }));
                }
                let names = match storage.list(&path) {
                    Ok(n) => n,
                    Err(e) => {
                        stderr.push_str(&format!("ls: {shown}: {e}\n"));
                        failed = true;
                        continue;
                    }
                };
                if long {
                    let entries: Vec<(String, Metadata)> = names
                        .into_iter()
                        .filter_map(|n| storage.metadata(&path.join(&n)).ok().map(|m| (n, m)))
                        .collect();
                    let blocks: u64 =
                        entries.iter().map(|(_, m)| if m.is_dir { 4 } else { m.size.div_ceil(4096) * 4 }).sum();
                    stdout.push_str(&format!("total {blocks}\n"));
                    for (n, m) in entries {
                        stdout.push_str(&long_line(&n, &m, &zone));
                    }
                } else {
                    for n in names {
                        stdout.push_str(&n);
                        stdout.push('\n');
                    }
                }
            }
        }
    }
    out(stdout, stderr, failed)
}

/// `cat FILE...`.
pub fn cat(phone: &mut VirtualPhone, args: &[&str]) -> ShellOutput {
    let (mut stdout, mut stderr, mut failed) = (String::new(), String::new(), false);
    for shown in args {
        match phone.storage().read(&SandboxPath::absolute(shown)) {
            Ok(bytes) => stdout.push_str(&String::from_utf8_lossy(&bytes)),
            Err(e) => {
                stderr.push_str(&format!("cat: {shown}: {e}\n"));
                failed = true;
            }
        }
    }
    out(stdout, stderr, failed)
}

/// `rm [-r] [-f] PATH...`.
pub fn rm(phone: &mut VirtualPhone, args: &[&str]) -> ShellOutput {
    let (flags, paths) = flags_and_paths(args);
    let (recursive, force) = (flags.contains('r') || flags.contains('R'), flags.contains('f'));
    let (mut stderr, mut failed) = (String::new(), false);
    for shown in paths {
        let path = SandboxPath::absolute(shown);
        let storage = phone.storage();
        let result = match storage.metadata(&path) {
            Err(FsError::NotFound) if force => Ok(()),
            Err(e) => Err(e),
            Ok(_) if !path.writable() || path.parts().len() <= 3 && is_base(&path) => Err(FsError::ReadOnly),
            Ok(m) if m.is_dir && !recursive => Err(FsError::IsADirectory),
            Ok(_) => storage.remove(&path, recursive),
        };
        if let Err(e) = result {
            stderr.push_str(&format!("rm: {shown}: {e}\n"));
            failed = true;
        }
    }
    out(String::new(), stderr, failed)
}

/// The roots of the writable areas themselves cannot be removed.
fn is_base(path: &SandboxPath) -> bool {
    ["/storage/emulated/0", "/data/local/tmp", "/data/data", "/data/app", "/data/system"]
        .iter()
        .any(|b| SandboxPath::absolute(b) == *path)
}

/// `mkdir [-p] DIR...`.
pub fn mkdir(phone: &mut VirtualPhone, args: &[&str]) -> ShellOutput {
    let (flags, paths) = flags_and_paths(args);
    let parents = flags.contains('p');
    let (mut stderr, mut failed) = (String::new(), false);
    for shown in paths {
        let path = SandboxPath::absolute(shown);
        let storage = phone.storage();
        let result = match storage.metadata(&path) {
            Ok(m) if m.is_dir && parents => Ok(()),
            Ok(_) => Err(FsError::Exists),
            Err(_) if !path.writable() => Err(FsError::ReadOnly),
            Err(_) if !parents && storage.metadata(&path.parent()).is_err() => Err(FsError::NotFound),
            Err(_) => storage.create_dir_all(&path),
        };
        if let Err(e) = result {
            stderr.push_str(&format!("mkdir: '{shown}': {e}\n"));
            failed = true;
        }
    }
    out(String::new(), stderr, failed)
}

/// `touch FILE...`: creates missing files.
pub fn touch(phone: &mut VirtualPhone, args: &[&str]) -> ShellOutput {
    let (mut stderr, mut failed) = (String::new(), false);
    for shown in args.iter().filter(|a| !a.starts_with('-')) {
        let path = SandboxPath::absolute(shown);
        let storage = phone.storage();
        let result = match storage.metadata(&path) {
            Ok(_) => Ok(()),
            Err(_) if !path.writable() => Err(FsError::ReadOnly),
            Err(_) => storage.write(&path, b""),
        };
        if let Err(e) = result {
            stderr.push_str(&format!("touch: '{shown}': {e}\n"));
            failed = true;
        }
    }
    out(String::new(), stderr, failed)
}

/// `screencap [-p] FILE`: the screen as PNG.
pub fn screencap(phone: &mut VirtualPhone, args: &[&str]) -> ShellOutput {
    let (_, paths) = flags_and_paths(args);
    let Some(shown) = paths.first() else {
        // PNG bytes are binary; this shell returns text. `adb exec-out screencap -p` or the
        // screenshot API give the bytes.
        return out(String::new(), "screencap: give a file, e.g. screencap -p /sdcard/screen.png\n".into(), true);
    };
    let path = SandboxPath::absolute(shown);
    if !path.writable() {
        return out(String::new(), format!("Error opening file: {shown} (Read-only file system)\n"), true);
    }
    let png = phone.screenshot().to_png();
    match phone.storage().write(&path, &png) {
        Ok(()) => out(String::new(), String::new(), false),
        Err(e) => out(String::new(), format!("Error opening file: {shown} ({e})\n"), true),
    }
}
