//! One stored IAM record into memory: what [`super::Iam::open`] does for every record at
//! start and the change feed does for the records other nodes change (`value: None` =
//! the record was deleted). Records of other tables are ignored.

use super::model::{
    AccessKeyRec, AccountRec, GroupRec, PolicyRec, RoleRec, SessionRec, UserRec, T_ACCOUNTS,
    T_GROUPS, T_KEYS, T_POLICIES, T_ROLES, T_SESSIONS, T_USERS,
};
use super::state::{decode, key, State};
use crate::error::ApiError;

/// (account, lower-cased name) from a store key `ACCOUNT/name`.
fn entity_key(store_key: &str) -> Option<(String, String)> {
    let (a, n) = store_key.split_once('/')?;
    Some(key(a, n))
}

pub(crate) fn apply_record(
    st: &mut State,
    table: &str,
    k: &str,
    value: Option<&[u8]>,
) -> Result<(), ApiError> {
    match (table, value) {
        (T_ACCOUNTS, Some(v)) => {
            let a: AccountRec = decode(T_ACCOUNTS, k, v)?;
            st.accounts.insert(a.id.clone(), a);
        }
        (T_ACCOUNTS, None) => {
            st.accounts.remove(k);
        }
        (T_USERS, Some(v)) => {
            let u: UserRec = decode(T_USERS, k, v)?;
            st.users.insert(key(&u.account, &u.name), u);
        }
        (T_USERS, None) => {
            if let Some(ek) = entity_key(k) {
                st.users.remove(&ek);
            }
        }
        (T_GROUPS, Some(v)) => {
            let g: GroupRec = decode(T_GROUPS, k, v)?;
            st.groups.insert(key(&g.account, &g.name), g);
        }
        (T_GROUPS, None) => {
            if let Some(ek) = entity_key(k) {
                st.groups.remove(&ek);
            }
        }
        (T_ROLES, Some(v)) => {
            let r: RoleRec = decode(T_ROLES, k, v)?;
            st.roles.insert(key(&r.account, &r.name), r);
        }
        (T_ROLES, None) => {
            if let Some(ek) = entity_key(k) {
                st.roles.remove(&ek);
            }
        }
        (T_POLICIES, Some(v)) => {
            let p: PolicyRec = decode(T_POLICIES, k, v)?;
            st.policies.insert(key(&p.account, &p.name), p);
        }
        (T_POLICIES, None) => {
            if let Some(ek) = entity_key(k) {
                st.policies.remove(&ek);
            }
        }
        (T_KEYS, Some(v)) => {
            let a: AccessKeyRec = decode(T_KEYS, k, v)?;
            st.keys.insert(a.id.clone(), a);
        }
        (T_KEYS, None) => {
            st.keys.remove(k);
        }
        (T_SESSIONS, Some(v)) => {
            let s: SessionRec = decode(T_SESSIONS, k, v)?;
            st.sessions.insert(s.access_key_id.clone(), s);
        }
        (T_SESSIONS, None) => {
            st.sessions.remove(k);
        }
        _ => {}
    }
    Ok(())
}
