//! IAM and STS: accounts (root credentials), users, groups, roles, customer managed
//! policies with versions, inline policies, permissions boundaries, access keys, tags and
//! AssumeRole sessions — and resolving credentials to a [`Principal`].
//!
//! State lives in memory behind one lock. Every change is written through
//! [`Store::commit`] first and applied in memory only when the store accepted it;
//! [`Iam::open`] reads everything back (sessions included). Resolved principals are
//! cached as shared snapshots and the cache is dropped on every change.
//!
//! A call arrives as awsQuery form pairs at [`Iam::call`] (`call`: decoding with `params`,
//! paging with `paging`, dispatch over the `op` tables, the simulator in `simulate`) and
//! leaves as a typed [`Reply`] with its audit facts. IAM and STS calls are themselves
//! authorized ([`Actor`], which carries the decision reached): the account root user may do
//! everything in its own account; anyone else needs an identity policy that allows the
//! action on the entity's ARN (`kmsd_policy::decide_identity`). AssumeRole is decided on
//! the role's trust policy and the caller's identity policies (`kmsd_policy::explain_assume_role`).

pub mod aws_managed;
pub(crate) mod binding;
pub mod call;
mod feed;
pub mod model;
pub mod op;
pub mod ops;
pub mod paging;
pub mod params;
mod resolve;
pub mod simulate;
mod state;
pub mod sts;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kmsd_policy::{Decision, DenyReason, IdentityRequest, RequestContext};
use parking_lot::{Mutex, RwLock};
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::error::ApiError;
use crate::error::IamError;
use crate::principal::{Principal, PrincipalDirectory, RequestMeta};
use crate::store::{Mutation, Store};

pub(crate) use state::{key, State};

use model::{
    AccessKeyRec, AccountRec, GroupRec, KeyOwner, ParsedArn, PolicyRec, RoleRec, SessionRec,
    UserRec,
};

pub use call::{QueryApi, Reply};
pub use ops::{CreateRoleInput, EntityKind, PolicyView};
pub use paging::Page;
pub use simulate::{EvaluationResult, SimulationSource};
pub use sts::{AssumeRoleInput, AssumeRoleOutput, CallerIdentity, SessionCredentials};

/// Resolved credentials: the secret to verify a signature with, and who signs with it.
/// `Debug` shows neither the secret nor the session token.
#[derive(Clone)]
pub struct Credential {
    pub access_key_id: String,
    pub secret: Arc<Zeroizing<String>>,
    /// Set for temporary (ASIA) credentials; requests must present it.
    pub session_token: Option<String>,
    /// Expiry of temporary credentials (epoch seconds).
    pub expires_at: Option<i64>,
    pub principal: Principal,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .field("principal", &self.principal)
            .finish()
    }
}

impl Credential {
    /// Constant-time check of a presented session token.
    pub fn session_token_matches(&self, presented: Option<&str>) -> bool {
        match (&self.session_token, presented) {
            (None, None) => true,
            (Some(t), Some(p)) => model::ct_eq(t, p),
            _ => false,
        }
    }

    /// True if the credentials are temporary and expired at `now_secs`.
    pub fn is_expired(&self, now_secs: i64) -> bool {
        self.expires_at.is_some_and(|e| now_secs >= e)
    }
}

/// The caller of one IAM/STS operation, and the authorization decision the operation
/// reached (`None` until one is made: a call refused by input checks first has none). An
/// operation takes it `&mut` and records its decision; [`Iam::call`] returns it in the
/// call's audit facts.
#[derive(Debug)]
pub struct Actor<'a> {
    pub principal: &'a Principal,
    pub meta: &'a RequestMeta,
    decision: Option<Decision>,
}

impl<'a> Actor<'a> {
    /// A caller with the facts of its request.
    pub fn new(principal: &'a Principal, meta: &'a RequestMeta) -> Self {
        Actor {
            principal,
            meta,
            decision: None,
        }
    }

    /// The caller's account: IAM operations act there.
    pub fn account(&self) -> &'a str {
        self.principal.caller.account()
    }

    /// The authorization decision of the operation, once one was made.
    pub fn decision(&self) -> Option<Decision> {
        self.decision
    }

    pub(crate) fn record(&mut self, d: Decision) {
        self.decision = Some(d);
    }

    /// A request context with the caller's principal keys and the request's keys.
    pub(crate) fn context(&self) -> RequestContext {
        let mut ctx = RequestContext::new();
        self.principal.add_to_context(&mut ctx);
        self.meta.add_to_context(&mut ctx);
        ctx
    }
}

fn store_key(k: &(String, String)) -> String {
    format!("{}/{}", k.0, k.1)
}

/// One change to IAM state, written to the store and then applied in memory.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    Account(AccountRec),
    User(UserRec),
    DelUser(String, String),
    Group(GroupRec),
    DelGroup(String, String),
    Role(RoleRec),
    DelRole(String, String),
    Policy(PolicyRec),
    DelPolicy(String, String),
    Key(AccessKeyRec),
    DelKey(String),
    Session(SessionRec),
    DelSession(String),
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(v)
        .map_err(|e| ApiError::new(IamError::ServiceFailure, format!("encode: {e}")))
}

impl Change {
    fn mutation(&self) -> Result<Mutation, ApiError> {
        use model::*;
        let put =
            |table: &'static str, key: String, value: Vec<u8>| Mutation::Put { table, key, value };
        let del = |table: &'static str, key: String| Mutation::Delete { table, key };
        Ok(match self {
            Change::Account(a) => put(T_ACCOUNTS, a.id.clone(), encode(a)?),
            Change::User(u) => put(T_USERS, store_key(&key(&u.account, &u.name)), encode(u)?),
            Change::DelUser(a, n) => del(T_USERS, store_key(&key(a, n))),
            Change::Group(g) => put(T_GROUPS, store_key(&key(&g.account, &g.name)), encode(g)?),
            Change::DelGroup(a, n) => del(T_GROUPS, store_key(&key(a, n))),
            Change::Role(r) => put(T_ROLES, store_key(&key(&r.account, &r.name)), encode(r)?),
            Change::DelRole(a, n) => del(T_ROLES, store_key(&key(a, n))),
            Change::Policy(p) => put(T_POLICIES, store_key(&key(&p.account, &p.name)), encode(p)?),
            Change::DelPolicy(a, n) => del(T_POLICIES, store_key(&key(a, n))),
            Change::Key(k) => put(T_KEYS, k.id.clone(), encode(k)?),
            Change::DelKey(id) => del(T_KEYS, id.clone()),
            Change::Session(s) => put(T_SESSIONS, s.access_key_id.clone(), encode(s)?),
            Change::DelSession(id) => del(T_SESSIONS, id.clone()),
        })
    }

    fn apply(self, st: &mut State) {
        match self {
            Change::Account(a) => {
                st.accounts.insert(a.id.clone(), a);
            }
            Change::User(u) => {
                st.users.insert(key(&u.account, &u.name), u);
            }
            Change::DelUser(a, n) => {
                st.users.remove(&key(&a, &n));
            }
            Change::Group(g) => {
                st.groups.insert(key(&g.account, &g.name), g);
            }
            Change::DelGroup(a, n) => {
                st.groups.remove(&key(&a, &n));
            }
            Change::Role(r) => {
                st.roles.insert(key(&r.account, &r.name), r);
            }
            Change::DelRole(a, n) => {
                st.roles.remove(&key(&a, &n));
            }
            Change::Policy(p) => {
                st.policies.insert(key(&p.account, &p.name), p);
            }
            Change::DelPolicy(a, n) => {
                st.policies.remove(&key(&a, &n));
            }
            Change::Key(k) => {
                st.keys.insert(k.id.clone(), k);
            }
            Change::DelKey(id) => {
                st.keys.remove(&id);
            }
            Change::Session(s) => {
                st.sessions.insert(s.access_key_id.clone(), s);
            }
            Change::DelSession(id) => {
                st.sessions.remove(&id);
            }
        }
    }
}

/// Every record of every IAM table, by table name.
pub type Snapshot = BTreeMap<String, Vec<(String, Vec<u8>)>>;

/// The IAM and STS state of every account on this server.
pub struct Iam {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    state: RwLock<State>,
    /// Resolved credentials by access key id; dropped on every change.
    cache: Mutex<HashMap<String, Credential>>,
}

impl std::fmt::Debug for Iam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state.read();
        f.debug_struct("Iam")
            .field("accounts", &st.accounts.len())
            .field("users", &st.users.len())
            .field("roles", &st.roles.len())
            .finish_non_exhaustive()
    }
}

fn store_err(e: crate::store::StoreError) -> ApiError {
    ApiError::new(IamError::ServiceFailure, e.to_string())
}

impl Iam {
    /// Open IAM over a store, reading back every account, entity, key and session.
    pub fn open(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Result<Iam, ApiError> {
        let mut st = State::default();
        for t in model::TABLES {
            for (k, v) in store.load(t).map_err(store_err)? {
                feed::apply_record(&mut st, t, &k, Some(&v))?;
            }
        }
        Ok(Iam {
            store,
            clock,
            state: RwLock::new(st),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Run one IAM/STS operation. On a shared store, an operation whose commit met another
    /// node's change to the same record runs again after catching up, as if it had come
    /// after that change.
    pub fn run_op<T>(&self, mut op: impl FnMut() -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut attempts = 0;
        loop {
            crate::store::take_conflict();
            let r = op();
            if crate::store::take_conflict() && attempts < 8 && self.store.sync().is_ok() {
                attempts += 1;
                continue;
            }
            return r;
        }
    }

    /// Apply other nodes' changes (a shared store's change feed) and drop cached principals.
    pub fn apply_feed(&self, changes: &[crate::store::Changed]) -> Result<(), String> {
        let mut st = self.state.write();
        for c in changes {
            feed::apply_record(&mut st, &c.table, &c.key, c.value.as_deref())
                .map_err(|e| e.to_string())?;
        }
        self.cache.lock().clear();
        Ok(())
    }

    /// The clock IAM uses (session expiry, creation dates).
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub(crate) fn read(&self) -> parking_lot::RwLockReadGuard<'_, State> {
        self.state.read()
    }

    pub(crate) fn write(&self) -> parking_lot::RwLockWriteGuard<'_, State> {
        self.state.write()
    }

    /// Commit changes to the store, then apply them in memory and drop cached principals.
    pub(crate) fn commit(&self, st: &mut State, changes: Vec<Change>) -> Result<(), ApiError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mutations = changes
            .iter()
            .map(Change::mutation)
            .collect::<Result<Vec<_>, _>>()?;
        self.store.commit(&mutations).map_err(|e| {
            if matches!(e, crate::store::StoreError::Conflict) {
                crate::store::note_conflict();
            }
            store_err(e)
        })?;
        for c in changes {
            c.apply(st);
        }
        self.cache.lock().clear();
        Ok(())
    }

    /// Credentials by access key id (AKIA long-term keys of users and roots, ASIA session keys).
    /// Expired sessions are returned too (with `expires_at`), so the caller can answer
    /// `ExpiredToken`; inactive keys and keys whose owner is gone are not.
    pub fn lookup_access_key(&self, access_key_id: &str) -> Option<Credential> {
        if let Some(c) = self.cache.lock().get(access_key_id) {
            return Some(c.clone());
        }
        let st = self.state.read();
        let cred = if let Some(k) = st.keys.get(access_key_id) {
            if k.status != "Active" {
                return None;
            }
            let principal = match &k.owner {
                KeyOwner::Root => {
                    st.accounts.get(&k.account)?;
                    resolve::root_principal(&k.account)
                }
                KeyOwner::User(name) => {
                    resolve::user_principal(&st, st.user(&k.account, name)?).ok()?
                }
            };
            Credential {
                access_key_id: k.id.clone(),
                secret: Arc::new(k.secret.clone()),
                session_token: None,
                expires_at: None,
                principal,
            }
        } else {
            let s = st.sessions.get(access_key_id)?;
            let principal = match &s.owner {
                None => {
                    let role = st.role(&s.account, &s.role_name)?;
                    let mut p = resolve::role_session_principal(
                        &st,
                        role,
                        &s.session_name,
                        Some(s.issued),
                        s.policy.as_deref(),
                        &s.policy_arns,
                        &s.tags,
                    )
                    .ok()?;
                    p.source_identity = s.source_identity.clone();
                    p
                }
                Some(KeyOwner::User(name)) => {
                    let mut p = resolve::user_principal(&st, st.user(&s.account, name)?).ok()?;
                    p.token_issue_time = Some(s.issued);
                    p
                }
                Some(KeyOwner::Root) => {
                    st.accounts.get(&s.account)?;
                    let mut p = resolve::root_principal(&s.account);
                    p.token_issue_time = Some(s.issued);
                    p
                }
            };
            Credential {
                access_key_id: s.access_key_id.clone(),
                secret: Arc::new(s.secret.clone()),
                session_token: Some(s.token.to_string()),
                expires_at: Some(s.expires),
                principal,
            }
        };
        // Cached while the state lock is still held: a change (which clears the cache under
        // the write lock) cannot slip in between and leave a stale principal behind.
        self.cache
            .lock()
            .insert(access_key_id.to_string(), cred.clone());
        drop(st);
        Some(cred)
    }

    /// A principal by ARN: account root (ARN or account id), user, role (as a session named
    /// `kmsd-explain`) or assumed-role session ARN; a session policy applies to role sessions.
    pub fn principal_for_arn(
        &self,
        arn: &str,
        session_policy: Option<&str>,
    ) -> Result<Principal, ApiError> {
        let st = self.state.read();
        let not_found = || {
            ApiError::new(
                IamError::NoSuchEntity,
                format!("The principal {arn} does not exist on this server."),
            )
        };
        let parsed = model::parse_arn(arn).ok_or_else(|| {
            ApiError::new(
                IamError::InvalidInput,
                format!("{arn} is not a valid principal ARN."),
            )
        })?;
        if session_policy.is_some()
            && !matches!(
                parsed,
                ParsedArn::Role { .. } | ParsedArn::AssumedRole { .. }
            )
        {
            return Err(ApiError::new(
                IamError::InvalidInput,
                "A session policy applies only to a role or an assumed-role session principal.",
            ));
        }
        match parsed {
            ParsedArn::Root { account } => {
                st.accounts.get(&account).ok_or_else(not_found)?;
                Ok(resolve::root_principal(&account))
            }
            ParsedArn::User {
                account,
                path,
                name,
            } => {
                let u = st
                    .user(&account, &name)
                    .filter(|u| u.path == path && u.name == name)
                    .ok_or_else(not_found)?;
                resolve::user_principal(&st, u)
            }
            ParsedArn::Role { .. } => {
                let r = st.role_by_arn(arn).ok_or_else(not_found)?;
                resolve::role_session_principal(
                    &st,
                    r,
                    "kmsd-explain",
                    None,
                    session_policy,
                    &[],
                    &[],
                )
            }
            ParsedArn::AssumedRole {
                account,
                role,
                session,
            } => {
                let r = st
                    .role(&account, &role)
                    .filter(|r| r.name == role)
                    .ok_or_else(not_found)?;
                resolve::role_session_principal(&st, r, &session, None, session_policy, &[], &[])
            }
            ParsedArn::Group { .. } | ParsedArn::Policy { .. } => Err(ApiError::new(
                IamError::InvalidInput,
                format!(
                    "{arn} is not a principal (user, role, assumed-role session or account root)."
                ),
            )),
        }
    }

    /// Every principal ARN: account roots, users and roles.
    pub fn list_principal_arns(&self) -> Vec<String> {
        let st = self.state.read();
        let mut out: Vec<String> = st
            .accounts
            .keys()
            .map(|a| format!("arn:aws:iam::{a}:root"))
            .collect();
        out.extend(
            st.users
                .values()
                .map(|u| model::user_arn(&u.account, &u.path, &u.name)),
        );
        out.extend(
            st.roles
                .values()
                .map(|r| model::role_arn(&r.account, &r.path, &r.name)),
        );
        out
    }

    /// The account ids on this server.
    pub fn list_accounts(&self) -> Vec<String> {
        self.state.read().accounts.keys().cloned().collect()
    }

    /// Every stored record of every IAM table, serialized (tests compare snapshots).
    pub fn snapshot(&self) -> Result<Snapshot, ApiError> {
        let mut out = BTreeMap::new();
        for t in model::TABLES {
            out.insert(t.to_string(), self.store.load(t).map_err(store_err)?);
        }
        Ok(out)
    }

    /// Authorize an IAM/STS action on a resource of the caller's account.
    pub(crate) fn authorize(
        &self,
        actor: &mut Actor<'_>,
        action: &str,
        resource: &str,
        extra: &dyn Fn(&mut RequestContext),
    ) -> Result<(), ApiError> {
        let caller = &actor.principal.caller;
        if caller.is_root() && resource_account(resource) == Some(caller.account()) {
            actor.record(Decision::Allow);
            return Ok(());
        }
        let mut ctx = actor.context();
        extra(&mut ctx);
        let outcome = kmsd_policy::decide_identity(&IdentityRequest {
            caller,
            caller_policies: &actor.principal.policies,
            action,
            resource,
            context: &ctx,
        });
        actor.record(outcome.decision);
        if outcome.decision == Decision::Allow {
            return Ok(());
        }
        let message = outcome
            .message(&caller.arn(), action, resource)
            .unwrap_or_else(|| {
                access_denied_message(
                    &caller.arn(),
                    action,
                    resource,
                    outcome.decision,
                    outcome.denied_by,
                )
            });
        Err(ApiError::new(IamError::AccessDenied, message))
    }
}

/// The account of an ARN (`arn:aws:SERVICE:REGION:ACCOUNT:...`).
pub(crate) fn resource_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// AWS's AccessDenied text (§7.1) when the decision engine gives none.
pub fn access_denied_message(
    caller_arn: &str,
    action: &str,
    resource: &str,
    decision: Decision,
    denied_by: Option<DenyReason>,
) -> String {
    let (article, kind) = match denied_by.unwrap_or(DenyReason::IdentityBased) {
        DenyReason::IdentityBased => ("an", "identity-based policy"),
        DenyReason::ResourceBased | DenyReason::ResourceNotVisible => {
            ("a", "resource-based policy")
        }
        DenyReason::PermissionsBoundary => ("a", "permissions boundary"),
        DenyReason::SessionPolicy => ("a", "session policy"),
        DenyReason::ServiceControlPolicy => ("a", "service control policy"),
    };
    if decision == Decision::ExplicitDeny {
        format!("User: {caller_arn} is not authorized to perform: {action} on resource: {resource} with an explicit deny in {article} {kind}")
    } else {
        format!("User: {caller_arn} is not authorized to perform: {action} on resource: {resource} because no {kind} allows the {action} action")
    }
}

impl PrincipalDirectory for Iam {
    fn account_exists(&self, account: &str) -> bool {
        self.state.read().accounts.contains_key(account)
    }

    fn principal_exists(&self, arn: &str) -> bool {
        self.state.read().principal_exists(arn)
    }
}
