//! The grants of a key as the decision engine reads them: indexed by grantee group and by
//! name, in grant-id order.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use kmsd_policy::{Caller, Grant};

/// A key's grants in the decision engine's form, with the indexes that keep CreateGrant and
/// every request cheap when a key holds many grants (AWS's quota is 50,000 per key):
///
/// - by grantee group (see `group_of`): a request looks only at the grants that can name
///   its caller, borrowed without a copy when one group holds them all (the usual case);
/// - by name: CreateGrant's Name idempotency looks only at the grants of that name.
///
/// Order: every list here is in grant-id order, the order of `KeyEntry::grants`. A view built
/// whole ([`GrantView::new`]: at load, for declared keys) and one changed grant by grant
/// ([`GrantView::insert`] on CreateGrant, [`GrantView::remove`] on RetireGrant/RevokeGrant)
/// are therefore the same, before and after a restart. The order matters because the engine
/// cites the first grant that allows a request. Grant-id order needs no stored sequence
/// number (creation time does not order grants made in the same millisecond), and
/// CreateGrant picks each new id above every id on the key, so an insert is an append.
#[derive(Debug, Default, Clone)]
pub(crate) struct GrantView {
    /// Grants by grantee group, each in grant-id order.
    groups: HashMap<String, Vec<Grant>>,
    /// Grant ids by grant name, in grant-id order.
    by_name: HashMap<String, Vec<String>>,
    len: usize,
    /// How many grantees are STS session ARNs: only when some are is a session caller's ARN
    /// built to look its group up.
    sessions: usize,
    /// Every grant in grant-id order, built on first use after a change (keys with few
    /// grants, PutKeyPolicy's lockout check, explain).
    all: OnceLock<Vec<Grant>>,
}

/// Up to this many grants the engine scans them all; beyond it, the grantee index is used.
const SCAN_ALL_GRANTS: usize = 16;

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The group a grantee principal is filed under: an account's root ARN
/// (`arn:aws:iam::<12 digits>:root`) shares the group of the bare account id (both name the
/// account, and a caller is always looked up by its account); any other grantee is its own
/// group.
fn group_of(grantee: &str) -> &str {
    match grantee
        .strip_prefix("arn:aws:iam::")
        .and_then(|r| r.strip_suffix(":root"))
    {
        Some(account) if is_account_id(account) => account,
        _ => grantee,
    }
}

fn is_session_arn(grantee: &str) -> bool {
    grantee.starts_with("arn:aws:sts::")
}

impl GrantView {
    /// The view of `grants` (any order; the view is in grant-id order).
    pub(crate) fn new(grants: impl IntoIterator<Item = Grant>) -> GrantView {
        let mut v = GrantView::default();
        for g in grants {
            v.insert(g);
        }
        v
    }

    /// Add a grant whose id is not in the view yet. O(1) amortized plus a binary search when
    /// the id is above every id in its group (CreateGrant's ids are); otherwise the group's
    /// later grants shift by one.
    pub(crate) fn insert(&mut self, g: Grant) {
        self.all = OnceLock::new();
        if is_session_arn(&g.grantee_principal) {
            self.sessions += 1;
        }
        if let Some(name) = &g.name {
            let ids = self.by_name.entry(name.clone()).or_default();
            let at = ids.partition_point(|id| *id < g.grant_id);
            ids.insert(at, g.grant_id.clone());
        }
        let group = match self.groups.get_mut(group_of(&g.grantee_principal)) {
            Some(group) => group,
            None => self
                .groups
                .entry(group_of(&g.grantee_principal).to_string())
                .or_default(),
        };
        let at = group.partition_point(|x| x.grant_id < g.grant_id);
        group.insert(at, g);
        self.len += 1;
    }

    /// Remove the grant `grant_id` (its grantee and name as stored). O(log n) plus moving the
    /// group's later grants down by one (no grant is copied); false if it is not there.
    pub(crate) fn remove(&mut self, grant_id: &str, grantee: &str, name: Option<&str>) -> bool {
        let key = group_of(grantee);
        let Some(group) = self.groups.get_mut(key) else {
            return false;
        };
        let Ok(at) = group.binary_search_by(|x| x.grant_id.as_str().cmp(grant_id)) else {
            return false;
        };
        group.remove(at);
        if group.is_empty() {
            self.groups.remove(key);
        }
        if let Some(n) = name {
            if let Some(ids) = self.by_name.get_mut(n) {
                if let Ok(i) = ids.binary_search_by(|id| id.as_str().cmp(grant_id)) {
                    ids.remove(i);
                }
                if ids.is_empty() {
                    self.by_name.remove(n);
                }
            }
        }
        if is_session_arn(grantee) {
            self.sessions = self.sessions.saturating_sub(1);
        }
        self.len = self.len.saturating_sub(1);
        self.all = OnceLock::new();
        true
    }

    /// Ids of the grants named `name`, in grant-id order.
    pub(crate) fn named(&self, name: &str) -> &[String] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// The grants filed in the group of `principal` (for a root ARN or an account id: every
    /// grant to that account, in either form), in grant-id order.
    pub(crate) fn group(&self, principal: &str) -> &[Grant] {
        self.groups
            .get(group_of(principal))
            .map_or(&[], Vec::as_slice)
    }

    /// Every grant, in grant-id order.
    pub(crate) fn all(&self) -> &[Grant] {
        self.all.get_or_init(|| {
            let mut v: Vec<&Grant> = self.groups.values().flatten().collect();
            v.sort_unstable_by(|a, b| a.grant_id.cmp(&b.grant_id));
            v.into_iter().cloned().collect()
        })
    }

    /// The grants whose grantee can name `caller` (its user, role or session ARN, or its
    /// account as id or root ARN), in grant-id order. Small sets are returned whole: the
    /// engine's per-grant check is cheaper than picking the subset. Otherwise no string is
    /// built (except a session caller's ARN when some grantee is a session ARN, and the root
    /// ARN of an account id that is not 12 digits) and, when a single group holds the
    /// caller's grants, nothing is copied.
    pub(crate) fn for_caller(&self, caller: &Caller) -> Cow<'_, [Grant]> {
        if self.len <= SCAN_ALL_GRANTS {
            return Cow::Borrowed(self.all());
        }
        let account = caller.account();
        let session = match caller {
            Caller::AssumedRole { .. } if self.sessions > 0 => Some(caller.arn()),
            _ => None,
        };
        // A 12-digit account's root ARN is filed with the account id.
        let root_arn = (!is_account_id(account)).then(|| format!("arn:aws:iam::{account}:root"));
        let own = match caller {
            Caller::Root { .. } => None,
            Caller::User { arn, .. } => Some(arn.as_str()),
            Caller::AssumedRole { role_arn, .. } => Some(role_arn.as_str()),
        };
        let names = [own, session.as_deref(), Some(account), root_arn.as_deref()];
        let mut keys: [&str; 4] = [""; 4];
        let mut hits: [&[Grant]; 4] = [&[]; 4];
        let mut n = 0;
        for name in names.into_iter().flatten() {
            let key = group_of(name);
            if keys.get(..n).is_some_and(|seen| seen.contains(&key)) {
                continue;
            }
            if let Some(group) = self.groups.get(key) {
                if let (Some(k), Some(h)) = (keys.get_mut(n), hits.get_mut(n)) {
                    *k = key;
                    *h = group;
                    n += 1;
                }
            }
        }
        match hits.get(..n).unwrap_or_default() {
            [] => Cow::Borrowed(&[]),
            [one] => Cow::Borrowed(one),
            several => {
                let mut picked: Vec<&Grant> = several.iter().flat_map(|g| g.iter()).collect();
                picked.sort_unstable_by(|a, b| a.grant_id.cmp(&b.grant_id));
                Cow::Owned(picked.into_iter().cloned().collect())
            }
        }
    }
}

impl std::ops::Deref for GrantView {
    type Target = [Grant];
    fn deref(&self) -> &[Grant] {
        self.all()
    }
}

#[cfg(test)]
mod tests;
