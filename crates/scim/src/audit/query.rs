//! `GET /AuditEvents` and `GET /AuditEvents/{id}`: the audit trail as a
//! read-only SCIM resource (RFC 7644 §3.4.1, §3.4.2). An event's id is its
//! number in the tenant's log; lists walk the log in time order, newest
//! first unless asked otherwise, and never scan it whole:
//!
//! * `meta.created` bounds (`gt`, `ge`, `lt`, `le`, alone or as terms of a
//!   top-level `and`) narrow the walk to a range of numbers, found by
//!   binary search on the events' times (numbers are handed out in time
//!   order; [`CLOCK_SKEW_MS`] of slack covers instances whose clocks differ);
//! * the walk visits at most `filter_scan_max` numbers: a wider range
//!   answers 400 `tooMany` (RFC 7644 §3.4.2.2), naming the bound to add;
//! * any other filter (`resourceId`, `resourceType`, `clientId`,
//!   `operation`, …) is evaluated on the events the walk visits.
//!
//! Order: `sortBy=meta.created` with `sortOrder=ascending` (RFC 7644
//! §3.4.2.3's default when `sortBy` is given) is oldest first,
//! `descending` newest first; without `sortBy`, newest first unless
//! `sortOrder=ascending`. Paging is by `startIndex`/`count` over the walk,
//! or by cursor (RFC 9865 §2): the cursor holds the number of the event a
//! page ends (`nextCursor`) or starts (`previousCursor`) with, and the next
//! page is the events after it in the walk's order. Numbers never change,
//! so a cursor walk returns every event present throughout it exactly once,
//! whatever is appended or expired meanwhile; a cursor page costs what an
//! index page costs (the walk is bounded as above).

use super::confirm;
use super::event::Event;
use super::log;
use crate::config::Config;
use crate::error::{Result, ScimError};
use crate::filter::{CompValue, CompareOp, Filter};
use crate::http::{Request, Response};
use crate::list::cursor::{Anchor, Binding, Cursor};
use crate::list::Params;
use crate::projection::Projection;
use crate::schema::ResourceType;
use crate::storage::records::Repo;

/// Slack on `meta.created` bounds when finding where the walk starts and
/// ends: events from instances whose clocks differ by less than this are
/// still found. The filter itself then compares exactly.
pub const CLOCK_SKEW_MS: u64 = 60_000;

/// Events read per store call during a walk.
const WALK_BATCH: usize = 200;

/// `/AuditEvents` (`id`: `None`) and `/AuditEvents/{id}`: GET, and 405
/// for every other method (the trail is written by the server alone).
pub(crate) fn serve(
    repo: &Repo,
    cfg: &Config,
    rt: &ResourceType,
    req: &Request,
    id: Option<&str>,
) -> Result<Response> {
    match (req.method.as_str(), id) {
        ("GET", None) => list(repo, cfg, rt, req),
        ("GET", Some(id)) => get(repo, rt, req, id),
        (m, _) => Err(crate::error::not_allowed(&format!(
            "{m} on the read-only audit trail"
        ))),
    }
}

/// `GET /AuditEvents/{id}`.
fn get(repo: &Repo, rt: &ResourceType, req: &Request, id: &str) -> Result<Response> {
    let not_found = || ScimError::not_found("no such audit event");
    let seq = parse_id(id).ok_or_else(not_found)?;
    let event = log::read(repo, &[seq])?
        .pop()
        .flatten()
        .ok_or_else(not_found)?;
    let pair = [(seq, event)];
    if !confirm::applied(repo, &pair)?[0] {
        return Err(not_found());
    }
    let projection = Projection::parse(
        rt,
        req.query_param("attributes").as_deref(),
        req.query_param("excludedAttributes").as_deref(),
    )?;
    let mut doc = pair[0].1.to_scim(seq, &req.base_url);
    projection.apply(rt, &mut doc);
    Ok(Response::json(200, &doc))
}

/// `GET /AuditEvents`: filter, order and page (see the module docs).
fn list(repo: &Repo, cfg: &Config, rt: &ResourceType, req: &Request) -> Result<Response> {
    let params = Params::from_query(req);
    let q = params.parse(rt, cfg)?;
    if let Some(s) = &q.sort_by {
        let created = s.attr.eq_ignore_ascii_case("meta")
            && s.sub
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case("created"));
        if !created {
            return Err(ScimError::invalid_value(
                "audit events sort by meta.created only",
            ));
        }
    }
    let newest_first = if q.sort_by.is_some() {
        q.descending
    } else {
        !params
            .sort_order
            .as_deref()
            .is_some_and(|o| o.trim().eq_ignore_ascii_case("ascending"))
    };
    let (lo_ms, hi_ms) = q.filter.as_ref().map_or((None, None), time_bounds);
    let mut first = log::tail(repo)?;
    let mut last = log::head(repo)?;
    if let Some(lo) = lo_ms {
        first = seek(repo, first, last, lo.saturating_sub(CLOCK_SKEW_MS))?;
    }
    if let Some(hi) = hi_ms {
        last = seek(repo, first, last, hi.saturating_add(CLOCK_SKEW_MS + 1))?.saturating_sub(1);
    }
    let span = if last >= first { last - first + 1 } else { 0 };
    if span > cfg.scan_max as u64 {
        return Err(ScimError::too_many(format!(
            "the audit events in range number more than {} (filter_scan_max); narrow \
             the range with a filter on meta.created (gt, ge, lt, le)",
            cfg.scan_max
        )));
    }
    let seqs: Vec<u64> = if newest_first {
        (first..=last).rev().collect()
    } else {
        (first..=last).collect()
    };
    let binding = Binding::new(
        "AuditEvents",
        params.filter.as_deref(),
        params.sort_by.as_deref(),
        params.sort_order.as_deref(),
    );
    let mut page = Page::new(
        q.count,
        newest_first,
        match &q.cursor {
            None => Mode::Index {
                skip: q.start_index - 1,
            },
            Some(text) => match Cursor::decode(text, &binding)? {
                Cursor::First => Mode::After(None),
                Cursor::Next(a) => Mode::After(Some(anchor_seq(&a)?)),
                Cursor::Previous(a) => Mode::Before(anchor_seq(&a)?),
            },
        },
    );
    for batch in seqs.chunks(WALK_BATCH) {
        let events: Vec<(u64, Event)> = batch
            .iter()
            .copied()
            .zip(log::read(repo, batch)?)
            .filter_map(|(s, e)| e.map(|e| (s, e)))
            .collect();
        let applied = confirm::applied(repo, &events)?;
        for ((seq, e), ok) in events.iter().zip(applied) {
            if !ok {
                continue;
            }
            let doc = e.to_scim(*seq, &req.base_url);
            if q.filter.as_ref().is_some_and(|f| !f.matches(rt, &doc)) {
                continue;
            }
            page.offer(*seq, doc, |d| q.projection.apply(rt, d));
        }
    }
    Ok(Response::json(200, &page.response(&binding, q.start_index)))
}

/// How a list request pages.
enum Mode {
    /// `startIndex` (1-based) minus one.
    Index { skip: usize },
    /// The events after this number in walk order (`None`: from the start).
    After(Option<u64>),
    /// The events before this number in walk order.
    Before(u64),
}

/// One page of the walk, filled as matching events go by in walk order.
struct Page {
    count: usize,
    newest_first: bool,
    mode: Mode,
    /// Matching events seen (`totalResults`).
    total: usize,
    /// Matching events before the page in walk order.
    before: usize,
    /// Matching events after the page in walk order.
    after: usize,
    docs: std::collections::VecDeque<(u64, serde_json::Value)>,
}

impl Page {
    fn new(count: usize, newest_first: bool, mode: Mode) -> Page {
        Page {
            count,
            newest_first,
            mode,
            total: 0,
            before: 0,
            after: 0,
            docs: Default::default(),
        }
    }

    /// Whether `seq` comes after `anchor` in walk order.
    fn later(&self, seq: u64, anchor: u64) -> bool {
        if self.newest_first {
            seq < anchor
        } else {
            seq > anchor
        }
    }

    fn offer(
        &mut self,
        seq: u64,
        mut doc: serde_json::Value,
        project: impl Fn(&mut serde_json::Value),
    ) {
        self.total += 1;
        let take = match self.mode {
            Mode::Index { skip } => self.total > skip,
            Mode::After(anchor) => anchor.is_none_or(|a| self.later(seq, a)),
            Mode::Before(anchor) => {
                if !self.later(anchor, seq) {
                    self.after += 1;
                    return;
                }
                // The last `count` before the anchor: older ones drop out.
                if self.docs.len() == self.count {
                    self.docs.pop_front();
                    self.before += 1;
                }
                if self.count > 0 {
                    project(&mut doc);
                    self.docs.push_back((seq, doc));
                } else {
                    self.before += 1;
                }
                return;
            }
        };
        if !take {
            self.before += 1;
        } else if self.docs.len() < self.count {
            project(&mut doc);
            self.docs.push_back((seq, doc));
        } else {
            self.after += 1;
        }
    }

    fn response(self, binding: &Binding, start_index: usize) -> serde_json::Value {
        let first = self.docs.front().map(|(s, _)| *s);
        let last = self.docs.back().map(|(s, _)| *s);
        let docs: Vec<serde_json::Value> = self.docs.into_iter().map(|(_, d)| d).collect();
        if let Mode::Index { .. } = self.mode {
            return crate::list::response(self.total, start_index, docs);
        }
        let cursor = |c: Cursor| Some(c.encode(binding));
        let at = |seq: u64| Anchor::Id(seq.to_string());
        // RFC 9865 §2: nextCursor unless this is the last page,
        // previousCursor unless it is the first.
        let next = match last {
            Some(l) if self.after > 0 => cursor(Cursor::Next(at(l))),
            _ => None,
        };
        let previous = match first {
            Some(f) if self.before > 0 => cursor(Cursor::Previous(at(f))),
            _ => None,
        };
        crate::list::cursor_response(self.total, docs, next, previous)
    }
}

/// The event number a cursor of this list holds.
fn anchor_seq(a: &Anchor) -> Result<u64> {
    match a {
        Anchor::Id(text) => parse_id(text).ok_or_else(crate::list::cursor::unknown_position),
        Anchor::Slot(_) => Err(crate::list::cursor::unknown_position()),
    }
}

/// An event id: its number, in decimal without sign or leading zeros.
fn parse_id(id: &str) -> Option<u64> {
    let ok = !id.is_empty()
        && id.len() <= 19
        && id.bytes().all(|b| b.is_ascii_digit())
        && !id.starts_with('0');
    ok.then(|| id.parse().ok()).flatten()
}

/// The `meta.created` bounds a filter implies (milliseconds): lower from
/// `gt`/`ge`, upper from `lt`/`le`, for a comparison alone or among the
/// terms of a top-level `and`. Anything else implies no bound.
fn time_bounds(f: &Filter) -> (Option<u64>, Option<u64>) {
    let terms: Vec<&Filter> = match f {
        Filter::And(terms) => terms.iter().collect(),
        other => vec![other],
    };
    let (mut lo, mut hi) = (None::<u64>, None::<u64>);
    for t in terms {
        let Filter::Compare(path, op, CompValue::String(s)) = t else {
            continue;
        };
        let is_created = path.attr.eq_ignore_ascii_case("meta")
            && path
                .sub
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case("created"));
        let Some(at) = is_created
            .then(|| crate::filter::scalar::parse_instant(s))
            .flatten()
        else {
            continue;
        };
        let ms = (at.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
        match op {
            CompareOp::Gt | CompareOp::Ge => lo = Some(lo.map_or(ms, |l| l.max(ms))),
            CompareOp::Lt | CompareOp::Le => hi = Some(hi.map_or(ms, |h| h.min(ms))),
            _ => {}
        }
    }
    (lo, hi)
}

/// The first number in `first..=last` whose event is at `ms` or later
/// (`last + 1` if none), by binary search. Each probe reads a few numbers
/// in one call and takes the first event present, so a missing event
/// (an append that died) does not derail it.
fn seek(repo: &Repo, first: u64, last: u64, ms: u64) -> Result<u64> {
    const PROBE: u64 = 8;
    let (mut lo, mut hi) = (first, last.saturating_add(1));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let window: Vec<u64> = (mid..(mid + PROBE).min(hi)).collect();
        let found = log::read(repo, &window)?
            .into_iter()
            .zip(&window)
            .find_map(|(e, s)| e.map(|e| (*s, e.ms())));
        match found {
            Some((_, at)) if at >= ms => hi = mid,
            Some((s, _)) => lo = s + 1,
            None => lo = mid + window.len() as u64,
        }
    }
    Ok(lo)
}
