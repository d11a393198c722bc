//! TEMPORARY stand-in (replaced by the issue-text module being written in parallel).
pub struct IssueText {
    pub text: String,
}

pub fn parse(text: &str) -> IssueText {
    IssueText { text: text.to_string() }
}
