//! Instance lifecycle states and their VMOS `padStatus` codes.

use serde::{Deserialize, Serialize};

/// The lifecycle state of a cloud phone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InstanceStatus {
    /// Starting up; not yet usable.
    Booting,
    /// Up and usable.
    Running,
    /// Restarting.
    Restarting,
    /// Being reset to factory state.
    Resetting,
    /// Shutting down.
    Stopping,
    /// Shut down; its state is kept.
    Stopped,
    /// Failed; needs a restart or reset.
    Abnormal,
}

impl InstanceStatus {
    /// Every state.
    pub const ALL: &'static [InstanceStatus] = &[
        InstanceStatus::Booting,
        InstanceStatus::Running,
        InstanceStatus::Restarting,
        InstanceStatus::Resetting,
        InstanceStatus::Stopping,
        InstanceStatus::Stopped,
        InstanceStatus::Abnormal,
    ];

    /// The snake_case name used in JSON and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::Booting => "booting",
            InstanceStatus::Running => "running",
            InstanceStatus::Restarting => "restarting",
            InstanceStatus::Resetting => "resetting",
            InstanceStatus::Stopping => "stopping",
            InstanceStatus::Stopped => "stopped",
            InstanceStatus::Abnormal => "abnormal",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<InstanceStatus> {
        InstanceStatus::ALL.iter().copied().find(|st| st.as_str() == s)
    }

    /// The VMOS Cloud `padStatus` code of this state.
    pub fn vmos_code(self) -> u16 {
        match self {
            InstanceStatus::Running => 10,
            InstanceStatus::Restarting => 11,
            InstanceStatus::Resetting => 12,
            InstanceStatus::Abnormal => 14,
            InstanceStatus::Stopped => 18,
            InstanceStatus::Stopping => 19,
            InstanceStatus::Booting => 20,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_codes_are_distinct() {
        let mut codes = std::collections::HashSet::new();
        for st in InstanceStatus::ALL {
            assert_eq!(InstanceStatus::parse(st.as_str()), Some(*st));
            assert_eq!(serde_json::to_value(st).unwrap(), st.as_str());
            assert!(codes.insert(st.vmos_code()));
        }
    }
}
