//! Application of a validated world file: all IAM entities in one store commit, each key through
//! `Kms::ensure_declared_key`; idempotent (ids derived or kept, dates kept, records written only
//! when they differ).

use super::{api_msg, tag_list, AccessKeyDecl, AccountDecl, BootstrapError, Document, World};
use crate::iam::model::{
    derived_unique_id, AccessKeyRec, AccountRec, GroupRec, KeyOwner, PolicyRec, PolicyVersionRec,
    RoleRec, UserRec,
};
use crate::iam::{model, Change, Iam};
use crate::kms::Kms;
use std::collections::BTreeMap;

const EMPTY_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[]}"#;

impl World {
    /// Validate completely, then apply: all IAM entities in one store commit, then each key.
    /// Idempotent.
    pub fn apply(&self, iam: &Iam, kms: &Kms) -> Result<(), BootstrapError> {
        self.validate_inner(kms, Some(iam))?;
        let now = iam.clock().now_secs();
        {
            let mut st = iam.write();
            let mut changes = Vec::new();
            let ids = self.declared_ids(&st);
            for acct in &self.accounts {
                self.account_changes(&st, acct, now, &ids, &mut changes)?;
            }
            iam.commit(&mut st, changes)
                .map_err(|e| self.err("IAM entities", api_msg(&e)))?;
        }
        for acct in &self.accounts {
            for dk in self.declared_keys(acct) {
                kms.ensure_declared_key(&acct.id, &dk).map_err(|e| {
                    self.err(format!("account {}, key {}", acct.id, dk.id), api_msg(&e))
                })?;
            }
        }
        Ok(())
    }

    /// The unique ids every declared user and role will have (kept if it exists, else derived
    /// from account and name), by ARN.
    fn declared_ids(&self, st: &crate::iam::State) -> BTreeMap<String, String> {
        let mut ids = BTreeMap::new();
        for acct in &self.accounts {
            let id = &acct.id;
            for u in &acct.users {
                let path = u.path.clone().unwrap_or_else(|| "/".into());
                let uid = st
                    .user(id, &u.name)
                    .map(|o| o.user_id.clone())
                    .unwrap_or_else(|| {
                        derived_unique_id(
                            "AIDA",
                            &format!("user:{id}:{}", u.name.to_ascii_lowercase()),
                        )
                    });
                ids.insert(model::user_arn(id, &path, &u.name), uid);
            }
            for r in &acct.roles {
                let path = r.path.clone().unwrap_or_else(|| "/".into());
                let rid = st
                    .role(id, &r.name)
                    .map(|o| o.role_id.clone())
                    .unwrap_or_else(|| {
                        derived_unique_id(
                            "AROA",
                            &format!("role:{id}:{}", r.name.to_ascii_lowercase()),
                        )
                    });
                ids.insert(model::role_arn(id, &path, &r.name), rid);
            }
        }
        ids
    }

    fn account_changes(
        &self,
        st: &crate::iam::State,
        acct: &AccountDecl,
        now: i64,
        ids: &BTreeMap<String, String>,
        out: &mut Vec<Change>,
    ) -> Result<(), BootstrapError> {
        let id = &acct.id;
        let a = format!("account {id}");
        if !st.accounts.contains_key(id) {
            out.push(Change::Account(AccountRec {
                id: id.clone(),
                created: now,
            }));
        }
        let mut want_key =
            |entity: &str, owner: KeyOwner, k: &AccessKeyDecl| -> Result<(), BootstrapError> {
                let rec = match st.keys.get(&k.access_key_id) {
                    Some(old) if old.account != *id || old.owner != owner => {
                        return Err(self.err(
                            entity,
                            format!(
                                "access key id {} already belongs to another principal",
                                k.access_key_id
                            ),
                        ));
                    }
                    Some(old) => AccessKeyRec {
                        secret: k.secret_access_key.clone(),
                        status: "Active".into(),
                        ..old.clone()
                    },
                    None => AccessKeyRec {
                        id: k.access_key_id.clone(),
                        secret: k.secret_access_key.clone(),
                        account: id.clone(),
                        owner,
                        status: "Active".into(),
                        created: now,
                    },
                };
                if st.keys.get(&rec.id) != Some(&rec) {
                    out.push(Change::Key(rec));
                }
                Ok(())
            };
        if let Some(k) = &acct.root_access_key {
            want_key(&format!("{a}, root"), KeyOwner::Root, k)?;
        }
        for u in &acct.users {
            for k in &u.access_keys {
                want_key(
                    &format!("{a}, user {}", u.name),
                    KeyOwner::User(u.name.clone()),
                    k,
                )?;
            }
        }

        for p in &acct.policies {
            let path = p.path.clone().unwrap_or_else(|| "/".into());
            let doc = p
                .document
                .as_ref()
                .map(Document::text)
                .unwrap_or_else(|| EMPTY_POLICY.to_string());
            let rec = match st.policies.get(&crate::iam::key(id, &p.name)) {
                Some(old) => {
                    let mut rec = old.clone();
                    rec.name = p.name.clone();
                    rec.path = path;
                    rec.description = p.description.clone();
                    if old.default_document() != Some(doc.as_str()) {
                        if rec.versions.len() >= 5 {
                            if let Some(i) = rec
                                .versions
                                .iter()
                                .position(|v| v.id != rec.default_version)
                            {
                                rec.versions.remove(i);
                            }
                        }
                        let vid = format!("v{}", rec.next_version);
                        rec.next_version += 1;
                        rec.versions.push(PolicyVersionRec {
                            id: vid.clone(),
                            document: doc,
                            created: now,
                        });
                        rec.default_version = vid;
                        rec.updated = now;
                    }
                    rec
                }
                None => PolicyRec {
                    account: id.clone(),
                    name: p.name.clone(),
                    policy_id: derived_unique_id(
                        "ANPA",
                        &format!("policy:{id}:{}", p.name.to_ascii_lowercase()),
                    ),
                    path,
                    created: now,
                    updated: now,
                    description: p.description.clone(),
                    default_version: "v1".into(),
                    versions: vec![PolicyVersionRec {
                        id: "v1".into(),
                        document: doc,
                        created: now,
                    }],
                    next_version: 2,
                    tags: Vec::new(),
                },
            };
            if st.policies.get(&crate::iam::key(id, &p.name)) != Some(&rec) {
                out.push(Change::Policy(rec));
            }
        }
        let texts = |m: &BTreeMap<String, Document>| -> BTreeMap<String, String> {
            m.iter().map(|(k, v)| (k.clone(), v.text())).collect()
        };
        for g in &acct.groups {
            let old = st.group(id, &g.name);
            let rec = GroupRec {
                account: id.clone(),
                name: g.name.clone(),
                path: g.path.clone().unwrap_or_else(|| "/".into()),
                group_id: old.map(|o| o.group_id.clone()).unwrap_or_else(|| {
                    derived_unique_id(
                        "AGPA",
                        &format!("group:{id}:{}", g.name.to_ascii_lowercase()),
                    )
                }),
                created: old.map(|o| o.created).unwrap_or(now),
                inline: texts(&g.inline_policies),
                managed: g.managed_policies.clone(),
            };
            if old != Some(&rec) {
                out.push(Change::Group(rec));
            }
        }
        for u in &acct.users {
            let old = st.user(id, &u.name);
            let groups = u
                .groups
                .iter()
                .map(|g| {
                    acct.groups
                        .iter()
                        .find(|d| d.name.eq_ignore_ascii_case(g))
                        .map(|d| d.name.clone())
                        .unwrap_or_else(|| g.clone())
                })
                .collect();
            let rec = UserRec {
                account: id.clone(),
                name: u.name.clone(),
                path: u.path.clone().unwrap_or_else(|| "/".into()),
                user_id: old.map(|o| o.user_id.clone()).unwrap_or_else(|| {
                    derived_unique_id(
                        "AIDA",
                        &format!("user:{id}:{}", u.name.to_ascii_lowercase()),
                    )
                }),
                created: old.map(|o| o.created).unwrap_or(now),
                tags: tag_list(&u.tags),
                groups,
                inline: texts(&u.inline_policies),
                managed: u.managed_policies.clone(),
                boundary: u.permissions_boundary.clone(),
            };
            if old != Some(&rec) {
                out.push(Change::User(rec));
            }
        }
        for r in &acct.roles {
            let old = st.role(id, &r.name);
            let rec = RoleRec {
                account: id.clone(),
                name: r.name.clone(),
                path: r.path.clone().unwrap_or_else(|| "/".into()),
                role_id: old.map(|o| o.role_id.clone()).unwrap_or_else(|| {
                    derived_unique_id(
                        "AROA",
                        &format!("role:{id}:{}", r.name.to_ascii_lowercase()),
                    )
                }),
                created: old.map(|o| o.created).unwrap_or(now),
                trust: r
                    .assume_role_policy
                    .as_ref()
                    .map(Document::text)
                    .unwrap_or_else(|| EMPTY_POLICY.to_string()),
                description: r.description.clone(),
                max_session: r.max_session_duration.unwrap_or(3600),
                tags: tag_list(&r.tags),
                inline: texts(&r.inline_policies),
                managed: r.managed_policies.clone(),
                boundary: r.permissions_boundary.clone(),
                trust_bindings: BTreeMap::new(),
            };
            let rec = RoleRec {
                trust_bindings: crate::iam::binding::bind(st, &rec.trust, ids),
                ..rec
            };
            if old != Some(&rec) {
                out.push(Change::Role(rec));
            }
        }
        Ok(())
    }
}
