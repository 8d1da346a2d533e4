//! The phone's shell: parses a command line the way `/system/bin/sh` would for the simple
//! cases (quotes, backslash escapes, `;`, `&&`, `||`) and answers Android's commands with
//! Android's output formats and exit codes.

use cloudphone_protocol::control::TouchAction;

use super::VirtualPhone;
use super::files;
use super::packages::{PackageError, SYSTEM_PACKAGES, system_package};
use crate::ShellOutput;
use crate::keycode::KeyCode;
use crate::storage::{FsError, SandboxPath};

/// How two commands are joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Join {
    /// `;`: run the next one regardless.
    Always,
    /// `&&`: run the next one if this one succeeded.
    And,
    /// `||`: run the next one if this one failed.
    Or,
}

/// Where a command's output goes instead of the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Redirect {
    append: bool,
    target: String,
}

/// One simple command of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Command {
    join: Join,
    words: Vec<String>,
    redirect: Option<Redirect>,
}

/// A word of the line, or an unquoted redirection operator.
enum Token {
    Word(String),
    Out { append: bool },
    Join(Join),
}

/// Splits a line into tokens, honouring quotes and backslashes.
fn tokenize(line: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let unterminated = || "syntax error: unterminated quoted string".to_string();
    macro_rules! end_word {
        () => {
            if in_word {
                tokens.push(Token::Word(std::mem::take(&mut word)));
                in_word = false;
            }
        };
    }
    while let Some(ch) = chars.next() {
        match ch {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(unterminated()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(unterminated()),
                        },
                        Some(c) => word.push(c),
                        None => return Err(unterminated()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            c if c.is_whitespace() => end_word!(),
            '>' => {
                end_word!();
                let append = chars.peek() == Some(&'>');
                if append {
                    chars.next();
                }
                tokens.push(Token::Out { append });
            }
            ';' => {
                end_word!();
                tokens.push(Token::Join(Join::Always));
            }
            '&' | '|' => {
                end_word!();
                if chars.peek() != Some(&ch) {
                    return Err(format!("syntax error: '{ch}' is not supported here"));
                }
                chars.next();
                tokens.push(Token::Join(if ch == '&' { Join::And } else { Join::Or }));
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        tokens.push(Token::Word(word));
    }
    Ok(tokens)
}

/// Splits a line into commands, the joins between them and their redirections.
fn parse(line: &str) -> Result<Vec<Command>, String> {
    let mut commands = Vec::new();
    let mut current = Command { join: Join::Always, words: Vec::new(), redirect: None };
    let mut tokens = tokenize(line)?.into_iter();
    while let Some(token) = tokens.next() {
        match token {
            Token::Word(w) => current.words.push(w),
            Token::Out { append } => match tokens.next() {
                Some(Token::Word(target)) => current.redirect = Some(Redirect { append, target }),
                _ => return Err("syntax error: '>' needs a file".into()),
            },
            Token::Join(join) => {
                if current.words.is_empty() {
                    if join != Join::Always {
                        return Err(format!(
                            "syntax error: '{}' unexpected",
                            if join == Join::And { "&&" } else { "||" }
                        ));
                    }
                } else {
                    commands.push(std::mem::replace(&mut current, Command { join, words: Vec::new(), redirect: None }));
                    continue;
                }
                current.join = join;
            }
        }
    }
    if !current.words.is_empty() {
        commands.push(current);
    }
    Ok(commands)
}

/// Runs a whole command line.
pub fn run(phone: &mut VirtualPhone, line: &str) -> ShellOutput {
    let commands = match parse(line) {
        Ok(c) => c,
        Err(e) => return ShellOutput { exit_code: 2, stdout: String::new(), stderr: format!("sh: {e}\n") },
    };
    let mut out = ShellOutput::default();
    for Command { join, words, redirect } in commands {
        let skip = match join {
            Join::Always => false,
            Join::And => out.exit_code != 0,
            Join::Or => out.exit_code == 0,
        };
        if skip {
            continue;
        }
        let mut one = command(phone, &words);
        if let Some(Redirect { append, target }) = redirect {
            let path = SandboxPath::absolute(&target);
            let result = if !path.writable() {
                Err(FsError::ReadOnly)
            } else if append {
                phone.storage().append(&path, one.stdout.as_bytes())
            } else {
                phone.storage().write(&path, one.stdout.as_bytes())
            };
            one.stdout.clear();
            if let Err(e) = result {
                one = fail(1, format!("sh: can't create {target}: {e}\n"));
            }
        }
        out.stdout.push_str(&one.stdout);
        out.stderr.push_str(&one.stderr);
        out.exit_code = one.exit_code;
    }
    out
}

fn ok(stdout: impl Into<String>) -> ShellOutput {
    ShellOutput { exit_code: 0, stdout: stdout.into(), stderr: String::new() }
}

fn fail(code: i32, stderr: impl Into<String>) -> ShellOutput {
    ShellOutput { exit_code: code, stdout: String::new(), stderr: stderr.into() }
}

fn command(phone: &mut VirtualPhone, words: &[String]) -> ShellOutput {
    let args: Vec<&str> = words.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] => ok(""),
        ["getprop"] => ok(phone.properties().iter().map(|(k, v)| format!("[{k}]: [{v}]\n")).collect::<String>()),
        ["getprop", name] => ok(format!("{}\n", phone.property(name).unwrap_or(""))),
        ["getprop", name, default] => ok(format!("{}\n", phone.property(name).unwrap_or(default))),
        ["getprop", ..] => fail(1, "getprop: Need 0, 1 or 2 arguments\n"),
        ["setprop", name, value] => {
            if phone.set_property(name, value) {
                ok("")
            } else {
                fail(1, format!("Failed to set property '{name}' to '{value}'.\nSee dmesg for error reason.\n"))
            }
        }
        ["setprop", ..] => fail(1, "setprop: Need 2 arguments\n"),
        ["echo", "-n", rest @ ..] => ok(rest.join(" ")),
        ["echo", rest @ ..] => ok(format!("{}\n", rest.join(" "))),
        ["wm", "size"] => {
            // Android reports the panel in its natural orientation, whatever the rotation.
            let (w, h) = phone.physical_size();
            ok(format!("Physical size: {w}x{h}\n"))
        }
        ["wm", "density"] => ok(format!("Physical density: {}\n", phone.density())),
        ["wm", ..] => fail(1, "usage: wm [size|density]\n"),
        ["input", rest @ ..] => input(phone, rest),
        ["settings", rest @ ..] => settings(phone, rest),
        ["pm", rest @ ..] => pm(phone, rest),
        ["dumpsys", "battery"] => ok(DUMPSYS_BATTERY),
        ["dumpsys", "power"] => ok(format!(
            "POWER MANAGER (dumpsys power)\n  mWakefulness={}\n  mIsPowered=true\n  mPlugType=1\n",
            if phone.screen_on() { "Awake" } else { "Asleep" }
        )),
        ["dumpsys", "location"] => ok(dumpsys_location(phone)),
        ["dumpsys", "sensorservice"] => ok(dumpsys_sensorservice(phone)),
        ["dumpsys", service, ..] => fail(1, format!("Can't find service: {service}\n")),
        ["am", rest @ ..] => am(phone, rest),
        ["cmd", "cloudphone", "message", "read", package] => {
            ok(phone.read_app_messages(package).into_iter().map(|m| m + "\n").collect::<String>())
        }
        ["cmd", "cloudphone", "message", "send", package, text @ ..] => {
            match phone.message_from_app(package, &text.join(" ")) {
                Ok(()) => ok(""),
                Err(e) => fail(1, format!("{e}\n")),
            }
        }
        ["cmd", "cloudphone", ..] => {
            fail(1, "usage: cmd cloudphone message read PACKAGE | cmd cloudphone message send PACKAGE TEXT\n")
        }
        ["cmd", service, ..] => fail(1, format!("cmd: Can't find service: {service}\n")),
        ["monkey", rest @ ..] => monkey(phone, rest),
        ["ls", rest @ ..] => files::ls(phone, rest),
        ["cat", rest @ ..] => files::cat(phone, rest),
        ["rm", rest @ ..] => files::rm(phone, rest),
        ["mkdir", rest @ ..] => files::mkdir(phone, rest),
        ["touch", rest @ ..] => files::touch(phone, rest),
        ["screencap", rest @ ..] => files::screencap(phone, rest),
        ["id"] => ok(
            "uid=2000(shell) gid=2000(shell) groups=2000(shell),1004(input),1007(log),1011(adb),1015(sdcard_rw),1028(sdcard_r),1078(ext_data_rw),1079(ext_obb_rw),3001(net_bt_admin),3002(net_bt),3003(inet),3006(net_bw_stats),3009(readproc),3011(uhid),3012(readtracefs) context=u:r:shell:s0\n",
        ),
        ["uname"] => ok("Linux\n"),
        ["uname", "-a"] => ok(format!(
            "Linux localhost 5.15.137-android14-11-g8f8c3c4c1b8e #1 SMP PREEMPT {} aarch64 Toybox\n",
            crate::clock::date_command(phone.clock_ms, "UTC")
        )),
        ["uname", "-r"] => ok("5.15.137-android14-11-g8f8c3c4c1b8e\n"),
        ["uname", "-m"] => ok("aarch64\n"),
        ["date"] => ok(format!("{}\n", crate::clock::date_command(phone.clock_ms, phone.timezone()))),
        ["date", "+%s"] => ok(format!("{}\n", phone.clock_ms / 1000)),
        ["true"] => ok(""),
        ["false"] => fail(1, ""),
        [name, ..] => fail(127, format!("sh: {name}: not found\n")),
    }
}

/// The battery: always full and on AC power (a cloud phone is plugged in).
const DUMPSYS_BATTERY: &str = "Current Battery Service state:\n  AC powered: true\n  USB powered: false\n  Wireless powered: false\n  Dock powered: false\n  Max charging current: 0\n  Max charging voltage: 0\n  Charge counter: 4000000\n  status: 5\n  health: 2\n  present: true\n  level: 100\n  scale: 100\n  voltage: 4350\n  temperature: 250\n  technology: Li-ion\n";

/// `dumpsys location`: the providers and the last known location.
fn dumpsys_location(phone: &VirtualPhone) -> String {
    let mut out = String::from("Location Manager State:\n  Location Providers:\n    gps provider:\n");
    match &phone.hal().location {
        Some(current) => {
            let f = &current.fix;
            out.push_str(&format!(
                "      last location=Location[gps {:.6},{:.6} hAcc={} et=+{}ms alt={} vel={} bear={}]\n",
                f.latitude,
                f.longitude,
                f.accuracy.map(|a| a.to_string()).unwrap_or_else(|| "???".into()),
                current.time_ms,
                f.altitude.map(|a| a.to_string()).unwrap_or_else(|| "???".into()),
                f.speed.map(|v| v.to_string()).unwrap_or_else(|| "???".into()),
                f.bearing.map(|b| b.to_string()).unwrap_or_else(|| "???".into()),
            ));
        }
        None => out.push_str("      last location=null\n"),
    }
    out.push_str("    network provider:\n      last location=null\n    fused provider:\n      last location=null\n");
    out
}

/// `dumpsys sensorservice`: the sensor list and each sensor's most recent event.
fn dumpsys_sensorservice(phone: &VirtualPhone) -> String {
    use cloudphone_protocol::control::SensorKind;
    let mut out = String::from("Sensor List:\n");
    for kind in SensorKind::ALL {
        let t = kind.android_type();
        out.push_str(&format!(
            "0x{t:08x}) {} | cloudphone | ver: 1 | type: android.sensor.{}({t}) | perm: n/a | flags: 0x00000000\n",
            kind.as_str(),
            if *kind == SensorKind::Magnetometer { "magnetic_field" } else { kind.as_str() }
        ));
    }
    out.push_str("Recent Sensor events:\n");
    for (kind, s) in &phone.hal().sensors {
        let [x, y, z] = s.values;
        out.push_str(&format!(
            "{}: last 1 events\n\t 1 (ts={:.6}) {x:.2}, {y:.2}, {z:.2}, \n",
            kind.as_str(),
            s.timestamp_ns as f64 / 1e9
        ));
    }
    out
}

/// `pm`: the package manager.
fn pm(phone: &mut VirtualPhone, args: &[&str]) -> ShellOutput {
    match args {
        ["list", "packages", rest @ ..] => {
            let (mut with_path, mut third_party, mut system, mut filter) = (false, false, false, None);
            for a in rest {
                match *a {
                    "-f" => with_path = true,
                    "-3" => third_party = true,
                    "-s" => system = true,
                    "--user" | "0" => {}
                    f if !f.starts_with('-') => filter = Some(f),
                    other => return fail(1, format!("Error: Unknown option: {other}\n")),
                }
            }
            let mut lines: Vec<(String, String)> = Vec::new();
            if !third_party {
                lines.extend(SYSTEM_PACKAGES.iter().map(|p| (p.package.to_owned(), p.path.to_owned())));
            }
            if !system {
                lines.extend(phone.installed().map(|p| (p.info.package.clone(), p.apk_path().to_string())));
            }
            lines.sort();
            ok(lines
                .into_iter()
                .filter(|(name, _)| filter.is_none_or(|f| name.contains(f)))
                .map(
                    |(name, path)| {
                        if with_path { format!("package:{path}={name}\n") } else { format!("package:{name}\n") }
                    },
                )
                .collect::<String>())
        }
        ["path", name] => match (system_package(name), phone.package(name)) {
            (Some(p), _) => ok(format!("package:{}\n", p.path)),
            (None, Some(p)) => ok(format!("package:{}\n", p.apk_path())),
            (None, None) => fail(1, ""),
        },
        ["install", rest @ ..] if !rest.is_empty() => {
            let Some(path) = rest.iter().rev().find(|a| !a.starts_with('-')) else {
                return fail(1, "Error: no package specified\n");
            };
            let downgrade = rest.contains(&"-d");
            match phone.install_file(&SandboxPath::absolute(path), downgrade) {
                Ok(_) => ok("Success\n"),
                Err(PackageError::Storage(FsError::NotFound)) => fail(
                    1,
                    format!("Error: Unable to open file: {path}\nConsider using a file under /data/local/tmp/\n"),
                ),
                Err(e) => fail(1, format!("Failure [{}: {e}]\n", e.android_code())),
            }
        }
        ["uninstall", rest @ ..] if !rest.is_empty() => {
            let name = rest[rest.len() - 1];
            match phone.uninstall(name) {
                Ok(()) => ok("Success\n"),
                Err(e) => fail(1, format!("Failure [{}]\n", e.android_code())),
            }
        }
        ["clear", name] => match phone.clear_data(name) {
            Ok(()) => ok("Success\n"),
            Err(_) => fail(1, "Failed\n"),
        },
        _ => fail(
            1,
            "usage: pm list packages [-f] [-3] [-s] [FILTER]\n       pm path PACKAGE\n       pm install [-r] [-d] PATH\n       pm uninstall PACKAGE\n       pm clear PACKAGE\n",
        ),
    }
}

/// `am`: the activity manager.
fn am(phone: &mut VirtualPhone, args: &[&str]) -> ShellOutput {
    match args {
        ["start", rest @ ..] => {
            let component = rest.windows(2).find(|w| w[0] == "-n").map(|w| w[1]);
            let home = rest.windows(2).any(|w| w[0] == "-c" && w[1] == "android.intent.category.HOME");
            match component {
                Some(component) => {
                    let Some((package, activity)) = component.split_once('/') else {
                        return fail(1, format!("Error: Bad component name: {component}\n"));
                    };
                    match phone.start_app(package, Some(activity)) {
                        Ok(_) => ok(format!("Starting: Intent {{ cmp={component} }}\n")),
                        Err(PackageError::NoSuchActivity(_) | PackageError::NotInstalled(_)) => {
                            let full = if activity.starts_with('.') {
                                format!("{package}{activity}")
                            } else {
                                activity.to_owned()
                            };
                            fail(
                                1,
                                format!(
                                    "Starting: Intent {{ cmp={component} }}\nError type 3\nError: Activity class {{{package}/{full}}} does not exist.\n"
                                ),
                            )
                        }
                        Err(e) => fail(1, format!("Error: {e}\n")),
                    }
                }
                None if home => {
                    phone.key(KeyCode::HOME);
                    ok("Starting: Intent { act=android.intent.action.MAIN cat=[android.intent.category.HOME] }\n")
                }
                None => fail(1, "Error: give a component with -n PACKAGE/ACTIVITY\n"),
            }
        }
        ["force-stop", name] => {
            // Android says nothing, whether or not the package exists.
            let _ = phone.stop_app(name);
            ok("")
        }
        _ => fail(1, "usage: am start [-W] -n PACKAGE/ACTIVITY\n       am force-stop PACKAGE\n"),
    }
}

/// `monkey -p PACKAGE -c android.intent.category.LAUNCHER 1`: the usual way to start an app by
/// package alone.
fn monkey(phone: &mut VirtualPhone, args: &[&str]) -> ShellOutput {
    let Some(package) = args.windows(2).find(|w| w[0] == "-p").map(|w| w[1]) else {
        return fail(1, "** Error: monkey needs -p PACKAGE here\n");
    };
    match phone.start_app(package, None) {
        Ok(_) => ok(
            "  bash arg: -p\n  bash arg: 1\nEvents injected: 1\n## Network stats: elapsed time=0ms (0ms mobile, 0ms wifi, 0ms not connected)\n",
        ),
        Err(_) => fail(1, "** No activities found to run, monkey aborted.\n"),
    }
}

const SETTINGS_NAMESPACES: &[&str] = &["system", "secure", "global"];

fn settings(phone: &mut VirtualPhone, args: &[&str]) -> ShellOutput {
    // `--user N` is accepted and ignored: the phone has one user.
    let args: Vec<&str> = match args {
        ["--user", _, rest @ ..] => rest.to_vec(),
        _ => args.to_vec(),
    };
    match args.as_slice() {
        ["get", ns, key] if SETTINGS_NAMESPACES.contains(ns) => {
            ok(format!("{}\n", phone.setting(ns, key).unwrap_or_else(|| "null".into())))
        }
        ["put", ns, key, value] if SETTINGS_NAMESPACES.contains(ns) => {
            if matches!((*ns, *key), ("secure", "android_id") | ("secure", "bluetooth_address")) {
                return fail(
                    1,
                    format!(
                        "java.lang.SecurityException: Permission denial: writing to settings requires:android.permission.WRITE_SECURE_SETTINGS for {key}\n"
                    ),
                );
            }
            phone.put_setting(ns, key, value);
            ok("")
        }
        ["list", ns] if SETTINGS_NAMESPACES.contains(ns) => {
            let mut lines: Vec<String> = phone.settings_in(ns).into_iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            lines.sort();
            ok(lines.concat())
        }
        ["get" | "put" | "list", ns, ..] if !SETTINGS_NAMESPACES.contains(ns) => {
            fail(1, format!("Invalid namespace '{ns}'\n"))
        }
        _ => fail(
            1,
            "usage:  settings [--user <USER_ID> | current] get namespace key\n        settings [--user <USER_ID> | current] put namespace key value\n        settings [--user <USER_ID> | current] list namespace\n\n'namespace' is one of {system, secure, global}, case-insensitive\n",
        ),
    }
}

const INPUT_USAGE: &str = "Usage: input [<source>] <command> [<arg>...]\n\n\
The commands and default sources are:\n      \
text <string> (Default: touchscreen)\n      \
keyevent [--longpress|--doubletap] <key code number or name> ... (Default: keyboard)\n      \
tap <x> <y> (Default: touchscreen)\n      \
swipe <x1> <y1> <x2> <y2> [duration(ms)] (Default: touchscreen)\n";

fn input(phone: &mut VirtualPhone, args: &[&str]) -> ShellOutput {
    let num = |s: &str| s.parse::<f32>().ok().filter(|v| v.is_finite());
    match args {
        ["tap", x, y] => match (num(x), num(y)) {
            (Some(x), Some(y)) => {
                phone.touch(TouchAction::Down, 0, x, y);
                phone.touch(TouchAction::Up, 0, x, y);
                ok("")
            }
            _ => fail(1, format!("Error: Invalid arguments for command: tap\n{INPUT_USAGE}")),
        },
        ["swipe", x1, y1, x2, y2, rest @ ..] if rest.len() <= 1 => {
            match (num(x1), num(y1), num(x2), num(y2), rest.first().map(|d| d.parse::<u32>().is_ok()).unwrap_or(true)) {
                (Some(x1), Some(y1), Some(x2), Some(y2), true)
                    if (x1, y1) == (x2, y2)
                        && rest
                            .first()
                            .and_then(|d| d.parse::<u64>().ok())
                            .is_some_and(|d| d >= super::LONG_PRESS_MS) =>
                {
                    // A swipe that stays put for long is how Android scripts a long press.
                    phone.long_press(x1, y1);
                    ok("")
                }
                (Some(x1), Some(y1), Some(x2), Some(y2), true) => {
                    const STEPS: usize = 10;
                    phone.touch(TouchAction::Down, 0, x1, y1);
                    for i in 1..=STEPS {
                        let t = i as f32 / STEPS as f32;
                        phone.touch(TouchAction::Move, 0, x1 + (x2 - x1) * t, y1 + (y2 - y1) * t);
                    }
                    phone.touch(TouchAction::Up, 0, x2, y2);
                    ok("")
                }
                _ => fail(1, format!("Error: Invalid arguments for command: swipe\n{INPUT_USAGE}")),
            }
        }
        ["keyevent", keys @ ..] if !keys.is_empty() => {
            let keys: Vec<&str> = keys.iter().copied().filter(|k| !k.starts_with("--")).collect();
            let mut codes = Vec::new();
            for k in &keys {
                match KeyCode::parse(k) {
                    Some(code) => codes.push(code),
                    None => return fail(1, format!("Error: Unknown keycode: {k}\n")),
                }
            }
            for code in codes {
                phone.key(code);
            }
            ok("")
        }
        // `input text` takes one argument; `%s` stands for a space, as on Android.
        ["text", text] => {
            phone.type_text(&text.replace("%s", " "));
            ok("")
        }
        _ => fail(1, INPUT_USAGE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::virtual_phone::{App, Screen};

    fn sh(phone: &mut VirtualPhone, line: &str) -> ShellOutput {
        run(phone, line)
    }

    #[test]
    fn getprop_formats() {
        let mut p = VirtualPhone::factory("s1");
        assert_eq!(sh(&mut p, "getprop ro.product.model").stdout, "Pixel 7\n");
        assert_eq!(sh(&mut p, "getprop no.such.prop").stdout, "\n");
        assert_eq!(sh(&mut p, "getprop no.such.prop fallback").stdout, "fallback\n");
        let all = sh(&mut p, "getprop").stdout;
        assert!(all.contains("[ro.product.model]: [Pixel 7]\n"), "{all}");
        let keys: Vec<&str> = all.lines().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "getprop lists properties sorted by name");
    }

    #[test]
    fn setprop_rules() {
        let mut p = VirtualPhone::factory("s2");
        let out = sh(&mut p, "setprop persist.sys.timezone Asia/Shanghai && getprop persist.sys.timezone");
        assert_eq!(out, ShellOutput { exit_code: 0, stdout: "Asia/Shanghai\n".into(), stderr: String::new() });
        let ro = sh(&mut p, "setprop ro.product.model X");
        assert_eq!(ro.exit_code, 1);
        assert_eq!(ro.stderr, "Failed to set property 'ro.product.model' to 'X'.\nSee dmesg for error reason.\n");
        assert_eq!(sh(&mut p, "setprop only_one").exit_code, 1);
    }

    #[test]
    fn quoting_and_chaining() {
        let mut p = VirtualPhone::factory("s3");
        assert_eq!(sh(&mut p, "echo 'a  b' \"c\\\"d\" e\\ f").stdout, "a  b c\"d e f\n");
        assert_eq!(sh(&mut p, "echo one; echo two").stdout, "one\ntwo\n");
        assert_eq!(sh(&mut p, "false && echo no").stdout, "");
        assert_eq!(sh(&mut p, "false || echo yes").stdout, "yes\n");
        assert_eq!(sh(&mut p, "echo -n x").stdout, "x");
        let bad = sh(&mut p, "echo 'open");
        assert_eq!(bad.exit_code, 2);
        assert!(bad.stderr.starts_with("sh: syntax error"));
        assert_eq!(sh(&mut p, "echo a | cat").exit_code, 2);
    }

    #[test]
    fn settings_get_put_list() {
        let mut p = VirtualPhone::factory("s6");
        let android_id = sh(&mut p, "settings get secure android_id").stdout;
        assert_eq!(android_id.trim().len(), 16);
        assert_eq!(android_id.trim(), p.identity().android_id);
        assert_eq!(sh(&mut p, "settings get system screen_brightness").stdout, "null\n");
        assert_eq!(sh(&mut p, "settings put system screen_brightness 128").exit_code, 0);
        assert_eq!(sh(&mut p, "settings --user 0 get system screen_brightness").stdout, "128\n");
        assert!(sh(&mut p, "settings list secure").stdout.contains(&format!("android_id={}", android_id.trim())));
        assert_eq!(sh(&mut p, "settings get nowhere x").stderr, "Invalid namespace 'nowhere'\n");
        assert_eq!(sh(&mut p, "settings put secure android_id 0000000000000000").exit_code, 1);
        assert_eq!(sh(&mut p, "settings").exit_code, 1);
        let rebooted = VirtualPhone::boot(p.state());
        assert_eq!(rebooted.setting("system", "screen_brightness").as_deref(), Some("128"));
    }

    #[test]
    fn dumpsys_subsets() {
        use cloudphone_protocol::control::{LocationFix, SensorKind, SensorReading};
        let mut p = VirtualPhone::factory("s7");
        assert!(sh(&mut p, "dumpsys battery").stdout.contains("  level: 100\n"));
        assert!(sh(&mut p, "dumpsys location").stdout.contains("last location=null"));
        let fix = LocationFix {
            latitude: 48.8584,
            longitude: 2.2945,
            altitude: Some(35.0),
            speed: None,
            bearing: None,
            accuracy: Some(4.0),
        };
        p.set_location(&fix, crate::virtual_phone::hal::LocationSource::Api).unwrap();
        assert!(sh(&mut p, "dumpsys location").stdout.contains("last location=Location[gps 48.858400,2.294500 hAcc=4"));
        p.sensor(&SensorReading {
            sensor: SensorKind::Gravity,
            values: [0.0, 9.8, 0.0],
            timestamp_ns: Some(2_000_000_000),
        })
        .unwrap();
        let sensors = sh(&mut p, "dumpsys sensorservice").stdout;
        assert!(
            sensors.contains("type: android.sensor.gravity(9)") && sensors.contains("gravity: last 1 events"),
            "{sensors}"
        );
        assert_eq!(sh(&mut p, "dumpsys nothing").exit_code, 1);
    }

    #[test]
    fn unknown_command_is_127() {
        let mut p = VirtualPhone::factory("s4");
        let out = sh(&mut p, "frobnicate --now");
        assert_eq!(
            out,
            ShellOutput { exit_code: 127, stdout: String::new(), stderr: "sh: frobnicate: not found\n".into() }
        );
    }

    #[test]
    fn wm_and_input() {
        let mut p = VirtualPhone::factory("s5");
        assert_eq!(sh(&mut p, "wm size").stdout, "Physical size: 720x1280\n");
        assert_eq!(sh(&mut p, "wm density").stdout, "Physical density: 320\n");
        let (x, y) = super::super::ui::icon_center(1, 720.0, 1280.0);
        assert_eq!(sh(&mut p, &format!("input tap {x} {y}")).exit_code, 0);
        assert_eq!(p.screen(), &Screen::Builtin(App::Notes));
        sh(&mut p, "input text hello%sworld");
        assert_eq!(p.notes(), "hello world");
        assert_eq!(sh(&mut p, "input keyevent KEYCODE_BACK").exit_code, 0);
        assert_eq!(p.screen(), &Screen::Launcher);
        let bad = sh(&mut p, "input keyevent KEYCODE_NOPE");
        assert_eq!((bad.exit_code, bad.stderr.as_str()), (1, "Error: Unknown keycode: KEYCODE_NOPE\n"));
        assert_eq!(sh(&mut p, "input tap x 1").exit_code, 1);
        assert_eq!(sh(&mut p, "input").exit_code, 1);
        sh(&mut p, &format!("input tap {x} {y}"));
        sh(&mut p, "input keyevent 3");
        assert_eq!(p.screen(), &Screen::Launcher);
        sh(&mut p, "input swipe 100 600 600 600 200");
        assert_eq!(p.screen(), &Screen::Launcher, "a swipe is not a tap");
    }
}
