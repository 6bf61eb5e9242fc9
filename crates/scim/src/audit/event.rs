//! One audit event: the stored form (compact keys, written once) and its
//! SCIM representation (schema `urn:spin-scim:params:scim:schemas:AuditEvent`).
//! An event names the attributes a change touched, never their values; the
//! only values it holds are member ids added or removed (passwords are
//! never stored, so they are never named either).

use super::{Actor, Change};
use crate::schema::{Kind, AUDIT_EVENT};
use serde_json::{json, Map, Value};

/// Most member ids one event lists (added and removed together): an event
/// stays far below the store's 1 MiB per value; the rest are counted in
/// `membersOmitted`.
pub const MAX_EVENT_MEMBERS: usize = 10_000;

/// What kind of change an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// POST (RFC 7644 §3.3).
    Create,
    /// PUT (RFC 7644 §3.5.1).
    Replace,
    /// PATCH (RFC 7644 §3.5.2), and membership changes a request causes
    /// elsewhere.
    Patch,
    /// DELETE (RFC 7644 §3.6).
    Delete,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Replace => "replace",
            Op::Patch => "patch",
            Op::Delete => "delete",
        }
    }
    fn parse(s: &str) -> Option<Op> {
        [Op::Create, Op::Replace, Op::Patch, Op::Delete]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// An event as stored at `a/e/<seq>`: a JSON object with short keys
/// (written and read by hand, sparing the component serde code).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    /// Milliseconds since the Unix epoch (`ms`).
    pub ms: u64,
    /// `op`.
    pub op: Op,
    /// The resource type's name (`User`, `Group`, `Role`) (`rt`).
    pub rt: String,
    /// The resource's id (`rid`).
    pub rid: String,
    /// `tenant`.
    pub tenant: String,
    /// The token's client (`client`).
    pub client: Option<String>,
    /// The token's subject (`sub`).
    pub sub: Option<String>,
    /// Names of the changed attributes (`attrs`).
    pub attrs: Vec<String>,
    /// Member ids added (`add`).
    pub add: Vec<String>,
    /// Member ids removed (`rem`).
    pub rem: Vec<String>,
    /// Member ids not listed, beyond [`MAX_EVENT_MEMBERS`] (`omitted`).
    pub omitted: usize,
    /// Version before (`vb`).
    pub vb: Option<u64>,
    /// Version after (`va`).
    pub va: Option<u64>,
    /// The request id (`req`).
    pub req: String,
    /// The event whose change caused this one (`cause`).
    pub cause: Option<u64>,
}

/// The lists of an event: at most [`MAX_EVENT_MEMBERS`] ids together, and
/// how many were left out.
fn bounded(added: &[String], removed: &[String]) -> (Vec<String>, Vec<String>, usize) {
    let add: Vec<String> = added.iter().take(MAX_EVENT_MEMBERS).cloned().collect();
    let rem: Vec<String> = removed
        .iter()
        .take(MAX_EVENT_MEMBERS - add.len())
        .cloned()
        .collect();
    let omitted = added.len() + removed.len() - add.len() - rem.len();
    (add, rem, omitted)
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "User",
        Kind::Group => "Group",
        Kind::Role => "Role",
    }
}

impl Event {
    /// The event of `change`, made at `ms` by `actor` in `tenant`.
    pub fn new(change: &Change, ms: u64, tenant: &str, actor: &Actor) -> Event {
        let (add, rem, omitted) = bounded(&change.added, &change.removed);
        Event {
            ms,
            op: change.op,
            rt: kind_name(change.kind).to_string(),
            rid: change.id.to_string(),
            tenant: tenant.to_string(),
            client: actor.client_id.clone(),
            sub: actor.subject.clone(),
            attrs: change.attributes.clone(),
            omitted,
            add,
            rem,
            vb: change.before,
            va: change.after,
            req: actor.request_id.clone(),
            cause: change.cause,
        }
    }

    /// Set the member ids added and removed (sorted here); whether that
    /// changed the event. `members` is named among the attributes exactly
    /// when some member changed.
    pub fn set_members(&mut self, added: &[String], removed: &[String]) -> bool {
        let mut added = added.to_vec();
        let mut removed = removed.to_vec();
        added.sort();
        removed.sort();
        let (add, rem, omitted) = bounded(&added, &removed);
        if (&add, &rem, omitted) == (&self.add, &self.rem, self.omitted) {
            return false;
        }
        let any = !add.is_empty() || !rem.is_empty();
        (self.add, self.rem, self.omitted) = (add, rem, omitted);
        let named = self.attrs.iter().any(|a| a == "members");
        if any && !named {
            self.attrs.push("members".into());
        } else if !any && named {
            self.attrs.retain(|a| a != "members");
        }
        true
    }

    /// The stored form.
    pub fn encode(&self) -> Vec<u8> {
        let mut o = Map::new();
        o.insert("ms".into(), json!(self.ms));
        o.insert("op".into(), json!(self.op.as_str()));
        o.insert("rt".into(), json!(self.rt));
        o.insert("rid".into(), json!(self.rid));
        o.insert("tenant".into(), json!(self.tenant));
        o.insert("req".into(), json!(self.req));
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                o.insert(k.into(), v);
            }
        };
        put("client", self.client.clone().map(Value::String));
        put("sub", self.sub.clone().map(Value::String));
        let list = |l: &Vec<String>| (!l.is_empty()).then(|| json!(l));
        put("attrs", list(&self.attrs));
        put("add", list(&self.add));
        put("rem", list(&self.rem));
        put("omitted", (self.omitted > 0).then(|| json!(self.omitted)));
        put("vb", self.vb.map(|v| json!(v)));
        put("va", self.va.map(|v| json!(v)));
        put("cause", self.cause.map(|v| json!(v)));
        serde_json::to_vec(&Value::Object(o)).expect("events serialise")
    }

    /// An event from its stored form (`None`: not one).
    pub fn decode(raw: &[u8]) -> Option<Event> {
        let v: Value = serde_json::from_slice(raw).ok()?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let num = |k: &str| v.get(k).and_then(Value::as_u64);
        let list = |k: &str| -> Vec<String> {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        Some(Event {
            ms: num("ms")?,
            op: Op::parse(v.get("op")?.as_str()?)?,
            rt: text("rt")?,
            rid: text("rid")?,
            tenant: text("tenant").unwrap_or_default(),
            client: text("client"),
            sub: text("sub"),
            attrs: list("attrs"),
            add: list("add"),
            rem: list("rem"),
            omitted: num("omitted").unwrap_or(0) as usize,
            vb: num("vb"),
            va: num("va"),
            req: text("req").unwrap_or_default(),
            cause: num("cause"),
        })
    }

    /// The resource type the event is about.
    pub fn kind(&self) -> Option<Kind> {
        match self.rt.as_str() {
            "User" => Some(Kind::User),
            "Group" => Some(Kind::Group),
            "Role" => Some(Kind::Role),
            _ => None,
        }
    }

    /// The SCIM representation of event `seq` (its `id`).
    pub fn to_scim(&self, seq: u64, base_url: &str) -> Value {
        let created = rfc3339_ms(self.ms);
        let mut o = Map::new();
        o.insert("schemas".into(), json!([AUDIT_EVENT]));
        o.insert("id".into(), json!(seq.to_string()));
        o.insert("operation".into(), json!(self.op.as_str()));
        o.insert("resourceType".into(), json!(self.rt));
        o.insert("resourceId".into(), json!(self.rid));
        o.insert("tenant".into(), json!(self.tenant));
        let mut put = |name: &str, v: Option<Value>| {
            if let Some(v) = v {
                o.insert(name.into(), v);
            }
        };
        put("clientId", self.client.clone().map(Value::String));
        put("subject", self.sub.clone().map(Value::String));
        let list = |l: &Vec<String>| (!l.is_empty()).then(|| json!(l));
        put("attributes", list(&self.attrs));
        put("membersAdded", list(&self.add));
        put("membersRemoved", list(&self.rem));
        put(
            "membersOmitted",
            (self.omitted > 0).then(|| json!(self.omitted)),
        );
        let etag = |v: Option<u64>| v.map(|v| json!(format!("W/\"{v}\"")));
        put("versionBefore", etag(self.vb));
        put("versionAfter", etag(self.va));
        put("requestId", Some(json!(self.req)));
        put("causedBy", self.cause.map(|c| json!(c.to_string())));
        o.insert(
            "meta".into(),
            json!({
                "resourceType": "AuditEvent",
                "created": created,
                "lastModified": created,
                "location": format!("{base_url}/AuditEvents/{seq}"),
                "version": format!("W/\"{seq}\""),
            }),
        );
        Value::Object(o)
    }
}

/// `ms` as an RFC 3339 timestamp with milliseconds (`xsd:dateTime`, RFC
/// 7643 §2.3.5).
pub fn rfc3339_ms(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Names of the attributes that differ between two stored documents:
/// top-level names, and `urn:…:name` inside an extension (RFC 7643 §3.3).
/// `id`, `meta` and `schemas` are bookkeeping, not attributes a client
/// changes. Values are never looked at beyond equality.
pub(crate) fn changed_paths(old: &Value, new: &Value) -> Vec<String> {
    let empty = Map::new();
    let o = old.as_object().unwrap_or(&empty);
    let n = new.as_object().unwrap_or(&empty);
    let mut out = Vec::new();
    let mut names: Vec<String> = o.keys().chain(n.keys()).cloned().collect();
    names.sort();
    names.dedup();
    for name in &names {
        if matches!(name.as_str(), "id" | "meta" | "schemas") {
            continue;
        }
        let (a, b) = (o.get(name), n.get(name));
        if a == b {
            continue;
        }
        let is_ext = name.starts_with("urn:");
        match (
            is_ext,
            a.and_then(Value::as_object),
            b.and_then(Value::as_object),
        ) {
            (true, x, y) => {
                for sub in changed_paths(
                    &Value::Object(x.cloned().unwrap_or_default()),
                    &Value::Object(y.cloned().unwrap_or_default()),
                ) {
                    out.push(format!("{name}:{sub}"));
                }
            }
            _ => out.push(name.clone()),
        }
    }
    out
}
