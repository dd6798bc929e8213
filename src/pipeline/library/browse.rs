//! Reading the library whole, for front ends that browse it (the console's Library pane): every
//! entry with its latest version's account, and every version of one entry with its manifest.
//! Read-only, with the same reader check as `list` and `show`.

use crate::error::{Error, Result};
use crate::library::{EntryRef, EntrySummary, VersionDetail, VersionInfo};

use super::Library;

/// An entry as a browser lists it: the summary `library list` gives, and its latest version as
/// the trail knows it (approvals, deprecation).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EntryOverview {
    #[serde(flatten)]
    pub summary: EntrySummary,
    pub latest: VersionInfo,
}

impl Library<'_> {
    /// Every entry, by name: `list`'s summaries with each latest version's account.
    pub fn overview(&self) -> Result<Vec<EntryOverview>> {
        let summaries = self.list()?;
        let c = self.catalogue()?;
        summaries
            .into_iter()
            .map(|summary| {
                let latest = c
                    .versions(&summary.name)
                    .iter()
                    .find(|v| v.version == summary.latest)
                    .cloned()
                    .ok_or_else(|| {
                        Error::Unavailable(format!(
                            "library entry {} changed while it was read: read it again",
                            summary.name
                        ))
                    })?;
                Ok(EntryOverview { summary, latest })
            })
            .collect()
    }

    /// Every version of an entry, oldest first, each with its manifest (parameters, files).
    pub fn versions_of(&self, name: &str) -> Result<Vec<VersionDetail>> {
        self.require_reader("read the library")?;
        let r = EntryRef::parse(name)?;
        let c = self.catalogue()?;
        let versions = c.versions(&r.name);
        if versions.is_empty() {
            return Err(Error::not_found(
                "library entry",
                r.name.clone(),
                "see `opsdeck library list`",
            ));
        }
        versions
            .iter()
            .map(|info| {
                Ok(VersionDetail {
                    info: info.clone(),
                    manifest: self.manifest(info)?,
                })
            })
            .collect()
    }
}
