//! TEMPORARY stand-in (replaced by the named-localization module being written in parallel).
use serde::Serialize;

use super::issue::IssueText;
use crate::repo::map::RepoMap;

#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    Traceback,
    Import,
    Call,
    Dotted,
}

impl NameSource {
    pub fn as_str(self) -> &'static str {
        match self {
            NameSource::Traceback => "traceback",
            NameSource::Import => "import",
            NameSource::Call => "call",
            NameSource::Dotted => "dotted",
        }
    }
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct NamedLocation {
    pub path: String,
    pub qualname: String,
    pub source: NameSource,
    pub evidence: String,
}

pub fn resolve(_map: &RepoMap, _issue: &IssueText) -> Vec<NamedLocation> {
    vec![]
}
