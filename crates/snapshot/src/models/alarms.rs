//! When the section is in alarm: a PRIMARY that did not deliver (a run
//! `FAILED`, `TIMEOUT` or `SKIPPED`), or that stored nothing while its
//! cycles had positions.

use model_api::Role;

use super::Models;

impl Models {
    pub(crate) fn alarms(&self) -> Vec<String> {
        let mut alarms = Vec::new();
        for v in self
            .versions
            .iter()
            .filter(|v| v.role == Some(Role::Primary))
        {
            let name = format!(
                "PRIMARY {} version {}",
                v.model_id,
                v.version.as_deref().unwrap_or("?")
            );
            let r = &v.runs;
            if r.failed + r.timeout + r.skipped > 0 {
                alarms.push(format!(
                    "{name}: {} FAILED, {} TIMEOUT and {} SKIPPED of {} runs",
                    r.failed, r.timeout, r.skipped, r.total
                ));
            }
            if r.ok > 0 && v.outputs == 0 && v.positions > 0 {
                alarms.push(format!(
                    "{name}: no output in {} OK runs while those cycles loaded {} positions",
                    r.ok, v.positions
                ));
            }
        }
        alarms
    }
}
