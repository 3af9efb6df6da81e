//! Searching runs with MLflow's filter syntax: clauses such as `metrics.roc_auc >= 0.8`,
//! `params.solver = 'newton'`, `tags.team != 'x'` or `attributes.status = 'FINISHED'`, joined
//! by `AND`; and ordering by `metrics.KEY`, `params.KEY` or `attributes.start_time`.

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
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Number(f64),
    Text(String),
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
    value: Value,
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
                if d.is_whitespace() || "<>=!'\"".contains(d) {
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
            if i + 3 > toks.len() {
                return Err(invalid(
                    filter,
                    "expected FIELD OPERATOR VALUE, e.g. metrics.roc_auc >= 0.8",
                ));
            }
            let field = parse_field(filter, &toks[i])?;
            let op = match toks[i + 1].to_ascii_uppercase().as_str() {
                "=" | "==" => Op::Eq,
                "!=" | "<>" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                "LIKE" => Op::Like,
                "ILIKE" => Op::ILike,
                other => return Err(invalid(filter, format!("unknown operator {other:?}"))),
            };
            let raw = &toks[i + 2];
            let value = match raw.strip_prefix('\'') {
                Some(text) => Value::Text(text.to_string()),
                None => Value::Number(raw.parse().map_err(|_| {
                    invalid(
                        filter,
                        format!("{raw:?} is neither a number nor a quoted string"),
                    )
                })?),
            };
            if matches!(field, Field::Metric(_)) && !matches!(value, Value::Number(_)) {
                return Err(invalid(filter, "metrics compare with numbers"));
            }
            clauses.push(Clause { field, op, value });
            i += 3;
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

    /// Whether a run matches every clause; a clause on a field the run lacks fails.
    pub fn matches(&self, run: &Run) -> bool {
        self.clauses.iter().all(|c| c.matches(run, false))
    }

    /// As [`RunFilter::matches`], except that `FIELD != VALUE` holds when the field is absent,
    /// as MLflow's registered-model search treats tags.
    pub fn matches_absent_as_unequal(&self, run: &Run) -> bool {
        self.clauses.iter().all(|c| c.matches(run, true))
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

fn attribute(run: &Run, key: &str) -> Option<Value> {
    let i = &run.info;
    Some(match key {
        "run_id" | "id" => Value::Text(i.id.clone()),
        "run_name" | "name" => Value::Text(i.name.clone()),
        "status" => Value::Text(i.status.name().to_string()),
        "user_id" => Value::Text(i.user_id.clone()),
        "experiment_id" => Value::Text(i.experiment_id.clone()),
        "artifact_uri" => Value::Text(i.artifact_uri.clone()),
        "lifecycle_stage" => Value::Text(i.lifecycle_stage.clone()),
        "start_time" => Value::Number(i.start_time as f64),
        "end_time" => Value::Number(i.end_time? as f64),
        _ => return None,
    })
}

fn lookup(run: &Run, field: &Field) -> Option<Value> {
    let find = |pairs: &[(String, String)], k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| Value::Text(v.clone()))
    };
    match field {
        Field::Metric(k) => run
            .metrics
            .iter()
            .find(|m| &m.key == k)
            .map(|m| Value::Number(m.value)),
        Field::Param(k) => find(&run.params, k),
        Field::Tag(k) => find(&run.tags, k),
        Field::Attribute(k) => attribute(run, k),
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
    fn matches(&self, run: &Run, absent_is_unequal: bool) -> bool {
        let Some(actual) = lookup(run, &self.field) else {
            return absent_is_unequal && self.op == Op::Ne;
        };
        match self.op {
            Op::Like | Op::ILike => {
                let (Value::Text(t), Value::Text(p)) = (&actual, &self.value) else {
                    return false;
                };
                if self.op == Op::ILike {
                    like(&p.to_lowercase(), &t.to_lowercase())
                } else {
                    like(p, t)
                }
            }
            op => {
                let Some(ord) = compare(&actual, &self.value) else {
                    return false;
                };
                match op {
                    Op::Eq => ord == Ordering::Equal,
                    Op::Ne => ord != Ordering::Equal,
                    Op::Lt => ord == Ordering::Less,
                    Op::Le => ord != Ordering::Greater,
                    Op::Gt => ord == Ordering::Greater,
                    Op::Ge => ord != Ordering::Less,
                    Op::Like | Op::ILike => unreachable!("handled above"),
                }
            }
        }
    }
}

/// How to order runs: a field and a direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOrder {
    field: Field,
    descending: bool,
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
            for o in order {
                let (x, y) = (lookup(a, &o.field), lookup(b, &o.field));
                let ord = match (x, y) {
                    (Some(x), Some(y)) => compare(&x, &y).unwrap_or(Ordering::Equal),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                };
                let ord = if o.descending { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            b.info.start_time.cmp(&a.info.start_time)
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
}
