//! The rules for declared faults (`[[faults]]`): each must be able to fire
//! (`FaultSpec::check`), and names are unique.

use super::PathPart::{Index, Key};
use super::Problems;
use crate::config::faults::{Fault, FaultEndpoint};
use crate::config::{Config, FaultSpec};

impl Config {
    /// The declared faults, checked (the server refuses to start unless all are fine).
    pub fn declared_faults(&self) -> Vec<Fault> {
        self.faults
            .iter()
            .enumerate()
            .filter_map(|(i, spec)| spec.check(&default_fault_name(spec, i)).ok())
            .collect()
    }

    pub(super) fn check_faults(&self, problems: &mut Problems) {
        let mut names: Vec<String> = Vec::new();
        for (i, spec) in self.faults.iter().enumerate() {
            let default_name = default_fault_name(spec, i);
            let name = spec.name.clone().unwrap_or_else(|| default_name.clone());
            if names.contains(&name) {
                problems.add(
                    &[Key("faults"), Index(i), Key("name")],
                    format!("'{name}' names another fault already"),
                );
            }
            names.push(name);
            for (key, message) in spec.check(&default_name).err().unwrap_or_default() {
                let mut path = vec![Key("faults"), Index(i)];
                path.extend(key.map(Key));
                problems.add(&path, message);
            }
        }
    }
}

/// A declared fault without a name is called after its endpoint and place: `token-2`.
fn default_fault_name(spec: &FaultSpec, index: usize) -> String {
    match FaultEndpoint::parse(&spec.endpoint) {
        Some(endpoint) => format!("{endpoint}-{}", index + 1),
        None => format!("fault-{}", index + 1),
    }
}
