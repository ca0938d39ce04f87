//! When the section is in alarm: a PRIMARY run `FAILED` or `TIMEOUT`.

use model_api::Role;

use super::Models;

impl Models {
    pub(crate) fn alarms(&self) -> Vec<String> {
        self.versions
            .iter()
            .filter(|v| v.role == Some(Role::Primary) && v.runs.failed + v.runs.timeout > 0)
            .map(|v| {
                format!(
                    "PRIMARY {} version {}: {} FAILED and {} TIMEOUT of {} runs",
                    v.model_id,
                    v.version.as_deref().unwrap_or("?"),
                    v.runs.failed,
                    v.runs.timeout,
                    v.runs.total
                )
            })
            .collect()
    }
}
