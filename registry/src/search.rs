//! Searching with MLflow's filter syntax: clauses such as `metrics.roc_auc >= 0.8`,
//! `params.solver = 'newton'`, `tags.team != 'x'`, `attributes.status = 'FINISHED'` or
//! `run_id IN ('a', 'b')`, joined by `AND`; and ordering by `metrics.KEY`, `params.KEY` or an
//! attribute. Runs, experiments, registered models, model versions and logged models are all
//! searched this way, each saying which attributes it has ([`Searchable`]).

use std::cmp::Ordering;

use crate::{Registry, RegistryError, Run, RunView};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
}

/// A value a filter compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number.
    Number(f64),
    /// Text.
    Text(String),
}

/// Something a filter can look at: attributes by name, and tags, params and metrics by key.
pub trait Searchable {
    /// An attribute (`name`, `run_id`, `start_time`, ...), if it has it.
    fn attribute(&self, key: &str) -> Option<Value>;
    /// A tag's value.
    fn tag(&self, key: &str) -> Option<&str> {
        let _ = key;
        None
    }
    /// A parameter's value.
    fn param(&self, key: &str) -> Option<&str> {
        let _ = key;
        None
    }
    /// A metric's latest value.
    fn metric(&self, key: &str) -> Option<f64> {
        let _ = key;
        None
    }
}

/// The value of `key` among `pairs`.
pub fn pair<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Metric(String),
    Param(String),
    Tag(String),
    Attribute(String),
}

#[derive(Debug, Clone, PartialEq)]
struct Clause {
    field: Field,
    op: Op,
    /// One value, or the list of `IN`.
    values: Vec<Value>,
}

/// A parsed run filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    clauses: Vec<Clause>,
}

fn invalid(filter: &str, why: impl std::fmt::Display) -> RegistryError {
    RegistryError::Invalid(format!("filter {filter:?}: {why}"))
}

fn parse_field(filter: &str, text: &str) -> Result<Field, RegistryError> {
    let (kind, key) = text.split_once('.').unwrap_or(("attributes", text));
    let key = key.trim_matches(|c| c == '`' || c == '"').to_string();
    if key.is_empty() {
        return Err(invalid(filter, format!("{text:?} names no key")));
    }
    Ok(match kind.to_ascii_lowercase().as_str() {
        "metric" | "metrics" => Field::Metric(key),
        "param" | "params" | "parameter" | "parameters" => Field::Param(key),
        "tag" | "tags" => Field::Tag(key),
        "attribute" | "attributes" | "attr" | "run" => Field::Attribute(key),
        other => {
            return Err(invalid(
                filter,
                format!("{other:?} is not metrics, params, tags or attributes"),
            ));
        }
    })
}

fn tokens(filter: &str) -> Result<Vec<String>, RegistryError> {
    let mut out = Vec::new();
    let mut chars = filter.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' || c == '"' {
            chars.next();
            let mut s = String::from("'");
            let mut closed = false;
            for d in chars.by_ref() {
                if d == c {
                    closed = true;
                    break;
                }
                s.push(d);
            }
            if !closed {
                return Err(invalid(filter, "a quoted value is not closed"));
            }
            out.push(s);
        } else if "(),".contains(c) {
            out.push(c.to_string());
            chars.next();
        } else if "<>=!".contains(c) {
            let mut s = String::new();
            while let Some(&d) = chars.peek() {
                if "<>=!".contains(d) {
                    s.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(s);
        } else {
            let mut s = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_whitespace() || "<>=!'\"(),".contains(d) {
                    break;
                }
                s.push(d);
                chars.next();
            }
            out.push(s);
        }
    }
    Ok(out)
}

impl RunFilter {
    /// Parses a filter; an empty one matches every run.
    pub fn parse(filter: &str) -> Result<Self, RegistryError> {
        let toks = tokens(filter)?;
        let mut clauses = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            if i + 2 > toks.len() {
                return Err(invalid(
                    filter,
                    "expected FIELD OPERATOR VALUE, e.g. metrics.roc_auc >= 0.8",
                ));
            }
            let field = parse_field(filter, &toks[i])?;
            let mut at = i + 1;
            let op_text = match toks[at].to_ascii_uppercase().as_str() {
                "NOT"
                    if toks
                        .get(at + 1)
                        .is_some_and(|t| t.eq_ignore_ascii_case("in")) =>
                {
                    at += 1;
                    "NOT IN".to_string()
                }
                other => other.to_string(),
            };
            at += 1;
            let op = match op_text.as_str() {
                "=" | "==" => Op::Eq,
                "!=" | "<>" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                "LIKE" => Op::Like,
                "ILIKE" => Op::ILike,
                "IN" => Op::In,
                "NOT IN" => Op::NotIn,
                other => return Err(invalid(filter, format!("unknown operator {other:?}"))),
            };
            let literal = |raw: &str| -> Result<Value, RegistryError> {
                match raw.strip_prefix('\'') {
                    Some(text) => Ok(Value::Text(text.to_string())),
                    None => raw.parse().map(Value::Number).map_err(|_| {
                        invalid(
                            filter,
                            format!("{raw:?} is neither a number nor a quoted string"),
                        )
                    }),
                }
            };
            let values = if matches!(op, Op::In | Op::NotIn) {
                if toks.get(at).map(String::as_str) != Some("(") {
                    return Err(invalid(
                        filter,
                        "IN takes a list in parentheses: ('a', 'b')",
                    ));
                }
                at += 1;
                let mut list = Vec::new();
                loop {
                    let Some(tok) = toks.get(at) else {
                        return Err(invalid(filter, "the list of IN is not closed"));
                    };
                    list.push(literal(tok)?);
                    match toks.get(at + 1).map(String::as_str) {
                        Some(",") => at += 2,
                        Some(")") => {
                            at += 2;
                            break;
                        }
                        _ => return Err(invalid(filter, "expected `,` or `)` in the list of IN")),
                    }
                }
                list
            } else {
                let Some(raw) = toks.get(at) else {
                    return Err(invalid(
                        filter,
                        "expected FIELD OPERATOR VALUE, e.g. metrics.roc_auc >= 0.8",
                    ));
                };
                at += 1;
                vec![literal(raw)?]
            };
            if matches!(field, Field::Metric(_))
                && values.iter().any(|v| !matches!(v, Value::Number(_)))
            {
                return Err(invalid(filter, "metrics compare with numbers"));
            }
            clauses.push(Clause { field, op, values });
            i = at;
            if i < toks.len() {
                if !toks[i].eq_ignore_ascii_case("and") {
                    return Err(invalid(
                        filter,
                        format!("expected AND between clauses, found {:?}", toks[i]),
                    ));
                }
                i += 1;
                if i == toks.len() {
                    return Err(invalid(filter, "AND at the end"));
                }
            }
        }
        Ok(Self { clauses })
    }

    /// Whether `item` matches every clause; a clause on a field it lacks fails.
    pub fn matches(&self, item: &impl Searchable) -> bool {
        self.clauses.iter().all(|c| c.matches(item, false))
    }

    /// As [`RunFilter::matches`], except that `FIELD != VALUE` (and `NOT IN`) holds when the
    /// field is absent, as MLflow's registry searches treat tags.
    pub fn matches_absent_as_unequal(&self, item: &impl Searchable) -> bool {
        self.clauses.iter().all(|c| c.matches(item, true))
    }
}

fn like(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|k| go(rest, &t[k..])),
            Some(('_', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

impl Searchable for Run {
    fn attribute(&self, key: &str) -> Option<Value> {
        let i = &self.info;
        Some(match key {
            "run_id" | "id" => Value::Text(i.id.clone()),
            "run_name" | "name" => Value::Text(i.name.clone()),
            "status" => Value::Text(i.status.name().to_string()),
            "user_id" => Value::Text(i.user_id.clone()),
            "experiment_id" => Value::Text(i.experiment_id.clone()),
            "artifact_uri" => Value::Text(i.artifact_uri.clone()),
            "lifecycle_stage" => Value::Text(i.lifecycle_stage.clone()),
            "start_time" | "created" | "Created" => Value::Number(i.start_time as f64),
            "end_time" => Value::Number(i.end_time? as f64),
            _ => return None,
        })
    }

    fn tag(&self, key: &str) -> Option<&str> {
        pair(&self.tags, key)
    }

    fn param(&self, key: &str) -> Option<&str> {
        pair(&self.params, key)
    }

    fn metric(&self, key: &str) -> Option<f64> {
        self.metrics.iter().find(|m| m.key == key).map(|m| m.value)
    }
}

fn text(v: &str) -> Value {
    Value::Text(v.to_string())
}

fn time(ms: i64) -> Value {
    Value::Number(ms as f64)
}

impl Searchable for crate::Experiment {
    fn attribute(&self, key: &str) -> Option<Value> {
        Some(match key {
            "name" => text(&self.name),
            "experiment_id" | "id" => text(&self.id),
            "lifecycle_stage" => text(&self.lifecycle_stage),
            "artifact_location" => text(&self.artifact_location),
            "creation_time" => time(self.created_at),
            "last_update_time" => time(self.updated_at),
            _ => return None,
        })
    }

    fn tag(&self, key: &str) -> Option<&str> {
        pair(&self.tags, key)
    }
}

impl Searchable for crate::RegisteredModel {
    fn attribute(&self, key: &str) -> Option<Value> {
        Some(match key {
            "name" => text(&self.name),
            "description" => text(&self.description),
            "creation_timestamp" => time(self.created_at),
            "last_updated_timestamp" | "timestamp" => time(self.updated_at),
            _ => return None,
        })
    }

    fn tag(&self, key: &str) -> Option<&str> {
        pair(&self.tags, key)
    }
}

impl Searchable for crate::ModelVersion {
    fn attribute(&self, key: &str) -> Option<Value> {
        Some(match key {
            "name" => text(&self.name),
            "version" | "version_number" => Value::Number(self.version as f64),
            "run_id" => text(self.run_id.as_deref().unwrap_or("")),
            "source" | "source_path" => text(&self.source),
            "current_stage" | "stage" => text(&self.stage),
            "status" => text(&self.status),
            "user_id" => text(&self.user_id),
            "description" => text(&self.description),
            "creation_timestamp" => time(self.created_at),
            "last_updated_timestamp" | "timestamp" => time(self.updated_at),
            _ => return None,
        })
    }

    fn tag(&self, key: &str) -> Option<&str> {
        pair(&self.tags, key)
    }
}

impl Searchable for crate::LoggedModel {
    fn attribute(&self, key: &str) -> Option<Value> {
        Some(match key {
            "name" => text(&self.name),
            "model_id" | "id" => text(&self.id),
            "experiment_id" => text(&self.experiment_id),
            "source_run_id" => text(self.source_run_id.as_deref().unwrap_or("")),
            "status" => text(&self.status),
            "model_type" => text(&self.model_type),
            "creation_timestamp" | "creation_time" => time(self.created_at),
            "last_updated_timestamp" => time(self.updated_at),
            _ => return None,
        })
    }

    fn tag(&self, key: &str) -> Option<&str> {
        pair(&self.tags, key)
    }

    fn param(&self, key: &str) -> Option<&str> {
        pair(&self.params, key)
    }
}

fn lookup(item: &impl Searchable, field: &Field) -> Option<Value> {
    let text = |v: Option<&str>| v.map(|t| Value::Text(t.to_string()));
    match field {
        Field::Metric(k) => item.metric(k).map(Value::Number),
        Field::Param(k) => text(item.param(k)),
        Field::Tag(k) => text(item.tag(k)),
        Field::Attribute(k) => item.attribute(k),
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.partial_cmp(y),
        (Value::Text(x), Value::Text(y)) => Some(x.cmp(y)),
        (Value::Text(x), Value::Number(y)) => x.parse::<f64>().ok()?.partial_cmp(y),
        (Value::Number(x), Value::Text(y)) => x.partial_cmp(&y.parse::<f64>().ok()?),
    }
}

impl Clause {
    fn matches(&self, item: &impl Searchable, absent_is_unequal: bool) -> bool {
        let Some(actual) = lookup(item, &self.field) else {
            return absent_is_unequal && matches!(self.op, Op::Ne | Op::NotIn);
        };
        let equal = |v: &Value| compare(&actual, v) == Some(Ordering::Equal);
        let Some(value) = self.values.first() else {
            return false;
        };
        match self.op {
            Op::In => self.values.iter().any(equal),
            Op::NotIn => !self.values.iter().any(equal),
            Op::Like | Op::ILike => {
                let (Value::Text(t), Value::Text(p)) = (&actual, value) else {
                    return false;
                };
                if self.op == Op::ILike {
                    like(&p.to_lowercase(), &t.to_lowercase())
                } else {
                    like(p, t)
                }
            }
            op => {
                let Some(ord) = compare(&actual, value) else {
                    return false;
                };
                match op {
                    Op::Eq => ord == Ordering::Equal,
                    Op::Ne => ord != Ordering::Equal,
                    Op::Lt => ord == Ordering::Less,
                    Op::Le => ord != Ordering::Greater,
                    Op::Gt => ord == Ordering::Greater,
                    Op::Ge => ord != Ordering::Less,
                    Op::Like | Op::ILike | Op::In | Op::NotIn => unreachable!("handled above"),
                }
            }
        }
    }
}

/// How to order results: a field and a direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOrder {
    field: Field,
    descending: bool,
}

impl RunOrder {
    /// Orders `a` and `b` by this field; items without it come last.
    pub fn compare(&self, a: &impl Searchable, b: &impl Searchable) -> Ordering {
        let ord = match (lookup(a, &self.field), lookup(b, &self.field)) {
            (Some(x), Some(y)) => compare(&x, &y).unwrap_or(Ordering::Equal),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        if self.descending { ord.reverse() } else { ord }
    }

    /// Orders by every field of `order` in turn.
    pub fn compare_all(order: &[RunOrder], a: &impl Searchable, b: &impl Searchable) -> Ordering {
        order
            .iter()
            .map(|o| o.compare(a, b))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    }
}

impl RunOrder {
    /// Parses `metrics.rmse`, `params.l2 DESC`, `attributes.start_time ASC`, ...
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let mut parts = text.split_whitespace();
        let field = parts
            .next()
            .ok_or_else(|| RegistryError::Invalid("order_by: empty".into()))?;
        let descending = match parts.next().map(|d| d.to_ascii_uppercase()) {
            None => false,
            Some(d) if d == "ASC" => false,
            Some(d) if d == "DESC" => true,
            Some(d) => {
                return Err(RegistryError::Invalid(format!(
                    "order_by {text:?}: {d:?} is not ASC or DESC"
                )));
            }
        };
        Ok(Self {
            field: parse_field(text, field)?,
            descending,
        })
    }
}

impl Registry {
    /// The runs of some experiments that match `filter`, ordered by `order` (then newest
    /// first), at most `limit` of them.
    pub async fn search_runs(
        &self,
        experiments: &[String],
        view: RunView,
        filter: &RunFilter,
        order: &[RunOrder],
        limit: usize,
    ) -> Result<Vec<Run>, RegistryError> {
        let mut runs: Vec<Run> = self
            .runs_in_view(experiments, view)
            .await?
            .into_iter()
            .filter(|r| filter.matches(r))
            .collect();
        runs.sort_by(|a, b| {
            RunOrder::compare_all(order, a, b)
                .then_with(|| b.info.start_time.cmp(&a.info.start_time))
                .then_with(|| a.info.id.cmp(&b.info.id))
        });
        runs.truncate(limit);
        Ok(runs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_field_fails_unless_asked_otherwise() {
        let run = Run {
            info: crate::RunInfo {
                id: "r".into(),
                experiment_id: "0".into(),
                name: "n".into(),
                status: crate::RunStatus::Finished,
                user_id: "u".into(),
                start_time: 0,
                end_time: None,
                lifecycle_stage: "active".into(),
                artifact_uri: String::new(),
            },
            params: Vec::new(),
            metrics: Vec::new(),
            tags: vec![("team".into(), "ml".into())],
        };
        let ne = RunFilter::parse("tags.`is.prompt` != 'true'").unwrap();
        assert!(!ne.matches(&run));
        assert!(ne.matches_absent_as_unequal(&run));
        let eq = RunFilter::parse("tags.`is.prompt` = 'true'").unwrap();
        assert!(!eq.matches_absent_as_unequal(&run));
        assert!(
            !RunFilter::parse("tags.team != 'ml'")
                .unwrap()
                .matches_absent_as_unequal(&run)
        );
    }

    #[test]
    fn parses_and_refuses() {
        let f = RunFilter::parse("metrics.auc >= 0.8 and params.solver = 'newton'").unwrap();
        assert_eq!(f.clauses.len(), 2);
        assert!(RunFilter::parse("").unwrap().clauses.is_empty());
        for bad in [
            "metrics.auc >=",
            "metrics.auc ~ 1",
            "metrics.auc > 'x'",
            "params.a = 'x' or params.b = 'y'",
            "params.a = 'x",
            "colour.a = 1",
            "metrics.auc > 1 and",
        ] {
            assert!(RunFilter::parse(bad).is_err(), "{bad}");
        }
        assert!(like("new%", "newton") && like("n_wton", "newton") && !like("x%", "newton"));
        assert!(RunOrder::parse("metrics.auc DESC").unwrap().descending);
        assert!(RunOrder::parse("metrics.auc sideways").is_err());
    }

    #[test]
    fn in_and_not_in_take_a_list() {
        let run = |id: &str| Run {
            info: crate::RunInfo {
                id: id.into(),
                experiment_id: "0".into(),
                name: "n".into(),
                status: crate::RunStatus::Finished,
                user_id: "u".into(),
                start_time: 0,
                end_time: None,
                lifecycle_stage: "active".into(),
                artifact_uri: String::new(),
            },
            params: Vec::new(),
            metrics: Vec::new(),
            tags: Vec::new(),
        };
        let f = RunFilter::parse("attributes.run_id IN ('a', 'b')").unwrap();
        assert!(f.matches(&run("a")) && f.matches(&run("b")) && !f.matches(&run("c")));
        let f = RunFilter::parse("run_id NOT IN ('a') and status = 'FINISHED'").unwrap();
        assert!(!f.matches(&run("a")) && f.matches(&run("c")));
        let absent = RunFilter::parse("tags.x NOT IN ('1')").unwrap();
        assert!(!absent.matches(&run("a")) && absent.matches_absent_as_unequal(&run("a")));
        for bad in [
            "run_id IN 'a'",
            "run_id IN ('a'",
            "run_id IN ('a' 'b')",
            "run_id NOT = 'a'",
        ] {
            assert!(RunFilter::parse(bad).is_err(), "{bad}");
        }
    }
}
