//! Edge-cloud messaging: messages between a viewer and an app in the phone.
//!
//! A message for an app waits in that package's inbox until the app reads it; what an app sends
//! waits in the outbox until the host hands it to viewers. On a real Android phone an app does
//! this through the cloudphone in-phone SDK; on the virtual phone, whose apps run no code, the
//! same calls are the shell's `cmd cloudphone message read PKG` and
//! `cmd cloudphone message send PKG TEXT`, which is how tests and scripts play the app's part.
//! Messages are transient: they do not survive a reboot, as they would not on a phone.

use std::collections::{BTreeMap, VecDeque};

use cloudphone_protocol::control::MAX_APP_MESSAGE_BYTES;

use super::VirtualPhone;
use super::packages::system_package;
use crate::DeviceError;

/// Messages an app's inbox keeps before the oldest is dropped (an app that never reads must not
/// grow the phone's memory).
const INBOX_LIMIT: usize = 256;
/// Messages waiting to go down before the oldest is dropped.
const OUTBOX_LIMIT: usize = 256;

/// The inboxes of the phone's apps and the messages apps sent.
#[derive(Clone, Debug, Default)]
pub struct AppMessages {
    inboxes: BTreeMap<String, VecDeque<String>>,
    outbox: VecDeque<(String, String)>,
}

fn check_size(data: &str) -> Result<(), DeviceError> {
    if data.len() > MAX_APP_MESSAGE_BYTES {
        return Err(DeviceError::InvalidInput(format!(
            "an app message of {} bytes exceeds {MAX_APP_MESSAGE_BYTES}",
            data.len()
        )));
    }
    Ok(())
}

fn push_bounded<T>(queue: &mut VecDeque<T>, item: T, limit: usize) {
    if queue.len() == limit {
        queue.pop_front();
    }
    queue.push_back(item);
}

impl VirtualPhone {
    fn has_package(&self, package: &str) -> bool {
        self.package(package).is_some() || system_package(package).is_some()
    }

    /// Delivers a viewer's message to `package`'s inbox.
    pub fn message_to_app(&mut self, package: &str, data: &str) -> Result<(), DeviceError> {
        check_size(data)?;
        if !self.has_package(package) {
            return Err(DeviceError::InvalidInput(format!("no package {package} on the phone to take the message")));
        }
        push_bounded(self.messages.inboxes.entry(package.to_owned()).or_default(), data.to_owned(), INBOX_LIMIT);
        Ok(())
    }

    /// The app `package` reads (and so removes) its messages, oldest first.
    pub fn read_app_messages(&mut self, package: &str) -> Vec<String> {
        self.messages.inboxes.remove(package).map(Vec::from).unwrap_or_default()
    }

    /// The app `package` sends viewers a message.
    pub fn message_from_app(&mut self, package: &str, data: &str) -> Result<(), DeviceError> {
        check_size(data)?;
        if !self.has_package(package) {
            return Err(DeviceError::InvalidInput(format!("no package {package} on the phone")));
        }
        push_bounded(&mut self.messages.outbox, (package.to_owned(), data.to_owned()), OUTBOX_LIMIT);
        Ok(())
    }

    /// Messages apps sent since the last call, `(package, data)`, oldest first.
    pub fn take_app_messages(&mut self) -> Vec<(String, String)> {
        self.messages.outbox.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::virtual_phone::PhoneState;
    use crate::{Device, VirtualPhone};

    #[test]
    fn messages_reach_the_app_and_come_back() {
        let mut phone = VirtualPhone::boot(PhoneState::for_seed("msg"));
        phone.message_to_app("com.cloudphone.notes", r#"{"n":1}"#).unwrap();
        phone.message_to_app("com.cloudphone.notes", "second").unwrap();
        assert!(phone.message_to_app("com.example.missing", "x").is_err(), "only to a package on the phone");
        assert!(phone.message_to_app("com.cloudphone.notes", &"x".repeat(20_000)).is_err(), "bounded");

        let read = phone.shell("cmd cloudphone message read com.cloudphone.notes");
        assert_eq!(read.stdout, "{\"n\":1}\nsecond\n");
        assert_eq!(phone.shell("cmd cloudphone message read com.cloudphone.notes").stdout, "", "read once");

        assert_eq!(phone.shell("cmd cloudphone message send com.cloudphone.notes hello there").exit_code, 0);
        assert_eq!(phone.take_app_messages(), vec![("com.cloudphone.notes".to_owned(), "hello there".to_owned())]);
        assert!(phone.take_app_messages().is_empty());
        let refused = phone.shell("cmd cloudphone message send com.example.missing hi");
        assert_eq!(refused.exit_code, 1);
        assert!(refused.stderr.contains("com.example.missing"), "{}", refused.stderr);
    }

    #[test]
    fn an_app_that_never_reads_keeps_only_the_newest() {
        let mut phone = VirtualPhone::boot(PhoneState::for_seed("msg2"));
        for i in 0..300 {
            phone.message_to_app("com.cloudphone.notes", &i.to_string()).unwrap();
        }
        let read = phone.read_app_messages("com.cloudphone.notes");
        assert_eq!(read.len(), super::INBOX_LIMIT);
        assert_eq!(read[0], "44");
    }
}
