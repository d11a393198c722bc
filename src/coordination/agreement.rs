//! Agreement: candidates that behave the same form one group, and a group's size (its votes)
//! is evidence. Shared by the function flow (behaviour clusters over the probe's inputs,
//! [`super::behaviour::cluster`]) and the repository fixer (candidates grouped by their
//! outcomes on the reproduction checks, [`crate::fix::select`]).

/// Candidates with equal behaviour keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group<K> {
    /// The behaviour every member showed.
    pub key: K,
    /// Candidate indices, in the order given.
    pub members: Vec<usize>,
    /// Members plus the repeats each one carries.
    pub votes: usize,
}

/// Group `(candidate index, behaviour key, votes)` by equal keys, in first-seen order.
pub fn group<K: PartialEq>(items: impl IntoIterator<Item = (usize, K, usize)>) -> Vec<Group<K>> {
    let mut out: Vec<Group<K>> = vec![];
    for (idx, key, votes) in items {
        if let Some(g) = out.iter_mut().find(|g| g.key == key) {
            g.members.push(idx);
            g.votes += votes;
        } else {
            out.push(Group {
                key,
                members: vec![idx],
                votes,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_share_a_group_and_add_their_votes() {
        let g = group([(0, "a", 1), (1, "b", 2), (2, "a", 3)]);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].members, vec![0, 2]);
        assert_eq!(g[0].votes, 4);
        assert_eq!(g[1].key, "b");
        assert_eq!(g[1].votes, 2);
    }
}
