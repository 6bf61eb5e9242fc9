//! One audit event: what it holds and its SCIM representation (schema
//! `urn:spin-scim:params:scim:schemas:AuditEvent`). An event names the
//! attributes a change touched, never their values; the only values it
//! holds are member ids added or removed (passwords are never stored, so
//! they are never named either). It is stored as its SCIM attributes plus
//! its time in milliseconds (`ms`); `id`, `schemas` and `meta` are added
//! when it is served.

use super::{Actor, Change};
use crate::schema::{Kind, AUDIT_EVENT};
use serde_json::{Map, Value};

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
}

/// An event: its attributes as stored (a JSON object, see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    doc: Map<String, Value>,
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "User",
        Kind::Group => "Group",
        Kind::Role => "Role",
    }
}

fn etag(v: u64) -> Value {
    Value::from(format!("W/\"{v}\""))
}

fn strings(l: &[String]) -> Value {
    Value::Array(l.iter().cloned().map(Value::String).collect())
}

impl Event {
    /// The event of `change`, made at `ms` by `actor` in `tenant`.
    pub fn new(change: &Change, ms: u64, tenant: &str, actor: &Actor) -> Event {
        let mut doc = Map::new();
        let mut put = |k: &str, v: Value| {
            doc.insert(k.to_string(), v);
        };
        put("ms", Value::from(ms));
        put("operation", Value::from(change.op.as_str()));
        put("resourceType", Value::from(kind_name(change.kind)));
        put("resourceId", Value::from(change.id));
        put("tenant", Value::from(tenant));
        if let Some(c) = &actor.client_id {
            put("clientId", Value::from(c.as_str()));
        }
        if let Some(s) = &actor.subject {
            put("subject", Value::from(s.as_str()));
        }
        if !change.attributes.is_empty() {
            put("attributes", strings(&change.attributes));
        }
        if let Some(v) = change.before {
            put("versionBefore", etag(v));
        }
        if let Some(v) = change.after {
            put("versionAfter", etag(v));
        }
        put("requestId", Value::from(actor.request_id.as_str()));
        if let Some(c) = change.cause {
            put("causedBy", Value::from(c.to_string()));
        }
        let mut e = Event { doc };
        e.set_members(&change.added, &change.removed);
        e
    }

    /// The stored form.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(&self.doc).expect("events serialise")
    }

    /// An event from its stored form (`None`: not one).
    pub fn decode(raw: &[u8]) -> Option<Event> {
        match serde_json::from_slice(raw).ok()? {
            Value::Object(doc) if doc.get("ms").is_some_and(Value::is_u64) => Some(Event { doc }),
            _ => None,
        }
    }

    fn text(&self, k: &str) -> &str {
        self.doc.get(k).and_then(Value::as_str).unwrap_or("")
    }

    /// Milliseconds since the Unix epoch.
    pub fn ms(&self) -> u64 {
        self.doc.get("ms").and_then(Value::as_u64).unwrap_or(0)
    }

    /// Whether the event records a delete.
    pub fn is_delete(&self) -> bool {
        self.text("operation") == Op::Delete.as_str()
    }

    /// The changed resource's id.
    pub fn rid(&self) -> &str {
        self.text("resourceId")
    }

    /// Whether another event's change caused this one.
    pub fn caused(&self) -> bool {
        self.doc.contains_key("causedBy")
    }

    /// Member ids added (`true`) or removed (`false`).
    pub fn members(&self, added: bool) -> Vec<String> {
        let k = if added {
            "membersAdded"
        } else {
            "membersRemoved"
        };
        self.list(k)
    }

    /// The strings of the array attribute `k` (none when absent).
    fn list(&self, k: &str) -> Vec<String> {
        self.doc
            .get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The lists of member ids (at most [`MAX_EVENT_MEMBERS`] together, the
    /// rest counted), and `members` among the attributes exactly when some
    /// member changed.
    fn put_members(&mut self, added: &[String], removed: &[String]) {
        let add = &added[..added.len().min(MAX_EVENT_MEMBERS)];
        let rem = &removed[..removed.len().min(MAX_EVENT_MEMBERS - add.len())];
        let omitted = added.len() + removed.len() - add.len() - rem.len();
        for (k, l) in [("membersAdded", add), ("membersRemoved", rem)] {
            match l {
                [] => self.doc.remove(k),
                l => self.doc.insert(k.to_string(), strings(l)),
            };
        }
        match omitted {
            0 => self.doc.remove("membersOmitted"),
            n => self
                .doc
                .insert("membersOmitted".into(), Value::from(n as u64)),
        };
        let any = !add.is_empty() || !rem.is_empty();
        let mut attrs = self.list("attributes");
        attrs.retain(|a| a != "members");
        if any {
            attrs.push("members".into());
        }
        match attrs.is_empty() {
            true => self.doc.remove("attributes"),
            false => self.doc.insert("attributes".into(), strings(&attrs)),
        };
    }

    /// Set the member ids added and removed (sorted here); whether that
    /// changed the event.
    pub fn set_members(&mut self, added: &[String], removed: &[String]) -> bool {
        let mut added = added.to_vec();
        let mut removed = removed.to_vec();
        added.sort();
        removed.sort();
        let before = self.doc.clone();
        self.put_members(&added, &removed);
        self.doc != before
    }

    /// The resource type the event is about.
    pub fn kind(&self) -> Option<Kind> {
        match self.text("resourceType") {
            "User" => Some(Kind::User),
            "Group" => Some(Kind::Group),
            "Role" => Some(Kind::Role),
            _ => None,
        }
    }

    /// The SCIM representation of event `seq` (its `id`).
    pub fn to_scim(&self, seq: u64, base_url: &str) -> Value {
        let created = rfc3339_ms(self.ms());
        let mut o = self.doc.clone();
        o.remove("ms");
        o.insert("schemas".into(), Value::from(vec![AUDIT_EVENT]));
        o.insert("id".into(), Value::from(seq.to_string()));
        let mut meta = Map::new();
        meta.insert("resourceType".into(), Value::from("AuditEvent"));
        meta.insert("created".into(), Value::from(created.clone()));
        meta.insert("lastModified".into(), Value::from(created));
        meta.insert(
            "location".into(),
            Value::from(format!("{base_url}/AuditEvents/{seq}")),
        );
        meta.insert("version".into(), etag(seq));
        o.insert("meta".into(), Value::Object(meta));
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
