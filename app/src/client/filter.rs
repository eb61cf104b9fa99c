//! Value filters: a jq expression, compiled once with jaq (jaq-core, its
//! standard library and JSON values), tested against values.
//!
//! A value matches when it parses as JSON and the expression yields at least
//! one truthy output (anything but `false` and `null`) before any error.
//! Values that are not JSON, and expressions that fail on a value (`.a` of a
//! number), do not match.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, ValT, Vars, data};
use jaq_json::Val;

use super::scan::{PartitionEntry, PartitionError};
use super::{Client, ScanRange, key_after};

type Data = data::JustLut<Val>;

/// A compiled jq expression.
pub struct ValueFilter {
    source: String,
    filter: jaq_core::Filter<Data>,
}

impl std::fmt::Debug for ValueFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueFilter")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Why an expression does not compile: the parser's (or compiler's) words.
#[derive(Debug, thiserror::Error)]
#[error("bad filter {expr:?}: {message}")]
pub struct FilterError {
    pub expr: String,
    pub message: String,
}

impl ValueFilter {
    /// Parses and compiles `expr`.
    pub fn new(expr: &str) -> Result<Self, FilterError> {
        let fail = |message: String| FilterError {
            expr: expr.to_owned(),
            message,
        };
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let program = File {
            code: expr,
            path: (),
        };
        let modules = loader
            .load(&arena, program)
            .map_err(|errs| fail(load_errors(expr, errs)))?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errs| fail(compile_errors(expr, errs)))?;
        Ok(ValueFilter {
            source: expr.to_owned(),
            filter,
        })
    }

    /// The expression as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether `value` is JSON for which the expression yields a truthy output.
    pub fn matches(&self, value: &[u8]) -> bool {
        let Ok(input) = jaq_json::read::parse_single(value) else {
            return false;
        };
        self.matches_val(input)
    }

    fn matches_val(&self, input: Val) -> bool {
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        for out in self.filter.id.run((ctx, input)) {
            match jaq_core::unwrap_valr(out) {
                Ok(v) if v.as_bool() => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    }
}

/// Page size of a filtered scan: the most the kvstore API gives at once.
const FILTER_PAGE: usize = rpkv_wire::MAX_SCAN_LIMIT as usize;

impl Client {
    /// The first `max` entries of `range` (merged across `partitions` by key)
    /// whose value matches `filter`. The range is narrowed on the server; the
    /// filter runs here, page by page, and `progress(scanned, matched)` is
    /// called after each page.
    pub async fn scan_matching(
        &self,
        topic: &str,
        partitions: &[i32],
        range: &ScanRange,
        filter: &ValueFilter,
        max: usize,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<Vec<PartitionEntry>, PartitionError> {
        let mut out = Vec::new();
        let mut page_range = range.clone();
        let mut scanned = 0u64;
        while out.len() < max {
            let page = self
                .scan_merged_page(topic, partitions, &page_range, FILTER_PAGE)
                .await?;
            let Some(last) = page.rows.last().map(|r| key_after(&r.key)) else {
                break;
            };
            scanned += page.rows.len() as u64;
            out.extend(page.rows.into_iter().filter(|r| filter.matches(&r.value)));
            progress(scanned, out.len() as u64);
            if !page.more {
                break;
            }
            page_range.start = Some(last);
        }
        out.truncate(max);
        Ok(out)
    }
}

/// Where in `expr` a parser error points: the rest of the text at that spot.
fn at(expr: &str, rest: &str) -> String {
    // `rest` is a slice of `expr` (the lexer and parser keep positions so).
    let offset = (rest.as_ptr() as usize).checked_sub(expr.as_ptr() as usize);
    match offset.filter(|o| *o <= expr.len()) {
        Some(o) if rest.is_empty() => format!("at the end (column {})", o + 1),
        Some(o) => {
            let shown: String = rest.chars().take(20).collect();
            format!("at column {} ({shown:?})", o + 1)
        }
        None => format!("at {rest:?}"),
    }
}

fn load_errors<P>(expr: &str, errs: jaq_core::load::Errors<&str, P>) -> String {
    use jaq_core::load::Error;
    let mut out = Vec::new();
    for (_, e) in errs {
        match e {
            Error::Io(items) => {
                out.extend(items.into_iter().map(|(path, e)| format!("{path}: {e}")))
            }
            Error::Lex(items) => {
                out.extend(items.into_iter().map(|(expect, rest)| {
                    format!("expected {} {}", expect.as_str(), at(expr, rest))
                }))
            }
            Error::Parse(items) => {
                out.extend(items.into_iter().map(|(expect, rest)| {
                    format!("expected {} {}", expect.as_str(), at(expr, rest))
                }))
            }
        }
    }
    out.join("; ")
}

fn compile_errors<P>(expr: &str, errs: jaq_core::compile::Errors<&str, P>) -> String {
    let mut out = Vec::new();
    for (_, items) in errs {
        for (name, undefined) in items {
            out.push(format!(
                "undefined {} {name} {}",
                undefined.as_str(),
                at(expr, name)
            ));
        }
    }
    out.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(expr: &str, value: &str) -> bool {
        ValueFilter::new(expr).unwrap().matches(value.as_bytes())
    }

    #[test]
    fn truthy_outputs_match() {
        assert!(m(".age > 30", r#"{"age": 31}"#));
        assert!(!m(".age > 30", r#"{"age": 30}"#));
        assert!(m("select(.tags | index(\"x\"))", r#"{"tags": ["a", "x"]}"#));
        assert!(
            m(".a.b.c", r#"{"a": {"b": {"c": 0}}}"#),
            "0 is truthy in jq"
        );
        assert!(!m(".a.b.c", r#"{"a": {"b": {}}}"#), "null is not");
        assert!(m("any(.xs[]; . == 2)", r#"{"xs": [1, 2]}"#));
        assert!(m("empty, true", "1"), "one truthy output is enough");
    }

    #[test]
    fn non_json_values_and_runtime_errors_do_not_match() {
        assert!(!m("true", "not json"));
        assert!(!m(".a", "3"), ".a of a number is an error");
        let f = ValueFilter::new(".").unwrap();
        assert!(!f.matches(b"\xff\xfe"));
    }

    #[test]
    fn bad_expressions_carry_the_parsers_message() {
        let e = ValueFilter::new(".a >").unwrap_err();
        assert!(e.message.contains("expected term"), "{e}");
        let e = ValueFilter::new("nosuchfn(1)").unwrap_err();
        assert!(e.message.contains("undefined filter nosuchfn"), "{e}");
        assert!(
            e.to_string().starts_with("bad filter \"nosuchfn(1)\": "),
            "{e}"
        );
    }

    #[test]
    fn filters_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<ValueFilter>();
    }
}
