//! Condition operators (§3): parsed and pre-compiled once (numbers, dates, CIDRs, base64,
//! globs, variables), then evaluated against a [`RequestContext`] without re-parsing policy text.
//!
//! Semantics: AND across operators and keys, OR across the values of one key for positive
//! operators, "matches none" for negated ones (C1, C2); missing keys per C3/C4; `Null` per C5;
//! `ForAllValues`/`ForAnyValue` per §3.3 (with the single-valued-operator CHOICE for
//! multi-valued keys). A key whose value is empty (empty string or list) is a "null dataset" for
//! `Null` and the set operators, as AWS documents.

use std::net::IpAddr;

use base64::Engine as _;
use ipnet::IpNet;

use crate::arn::ArnPattern;
use crate::context::{ContextValue, RequestContext};
use crate::pattern::{Glob, Template};

/// `ForAllValues:` / `ForAnyValue:` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    Single,
    ForAll,
    ForAny,
}

/// Comparison for numeric and date operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    #[inline]
    fn test<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Cmp::Eq => request == policy,
            Cmp::Lt => request < policy,
            Cmp::Le => request <= policy,
            Cmp::Gt => request > policy,
            Cmp::Ge => request >= policy,
        }
    }
}

/// The operator family without prefix, suffix and negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

/// A parsed condition operator name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Operator {
    pub set: SetOp,
    pub base: Base,
    pub negated: bool,
    pub if_exists: bool,
}

impl Operator {
    /// Parse an operator name. Names are exact, as IAM has them: AWS rejects a policy whose
    /// operator differs only in case (`MalformedPolicyDocument: Invalid Condition type :
    /// stringEquals`), so `stringequals` is not an operator (the spec's G7 CHOICE said
    /// otherwise).
    pub fn parse(name: &str) -> Option<Operator> {
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAllValues:") {
            (SetOp::ForAll, r)
        } else if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (SetOp::ForAny, r)
        } else {
            (SetOp::Single, name)
        };
        let (if_exists, base_name) = match rest.strip_suffix("IfExists") {
            Some(b) => (true, b),
            None => (false, rest),
        };
        use Base::*;
        let (base, negated) = match base_name {
            "StringEquals" => (StringEquals, false),
            "StringNotEquals" => (StringEquals, true),
            "StringEqualsIgnoreCase" => (StringEqualsIgnoreCase, false),
            "StringNotEqualsIgnoreCase" => (StringEqualsIgnoreCase, true),
            "StringLike" => (StringLike, false),
            "StringNotLike" => (StringLike, true),
            "NumericEquals" => (Numeric(Cmp::Eq), false),
            "NumericNotEquals" => (Numeric(Cmp::Eq), true),
            "NumericLessThan" => (Numeric(Cmp::Lt), false),
            "NumericLessThanEquals" => (Numeric(Cmp::Le), false),
            "NumericGreaterThan" => (Numeric(Cmp::Gt), false),
            "NumericGreaterThanEquals" => (Numeric(Cmp::Ge), false),
            "DateEquals" => (Date(Cmp::Eq), false),
            "DateNotEquals" => (Date(Cmp::Eq), true),
            "DateLessThan" => (Date(Cmp::Lt), false),
            "DateLessThanEquals" => (Date(Cmp::Le), false),
            "DateGreaterThan" => (Date(Cmp::Gt), false),
            "DateGreaterThanEquals" => (Date(Cmp::Ge), false),
            "Bool" => (Bool, false),
            "BinaryEquals" => (Binary, false),
            "IpAddress" => (Ip, false),
            "NotIpAddress" => (Ip, true),
            "ArnEquals" | "ArnLike" => (Arn, false),
            "ArnNotEquals" | "ArnNotLike" => (Arn, true),
            "Null" => (Null, false),
            _ => return None,
        };
        if base == Null && (if_exists || set != SetOp::Single) {
            return None;
        }
        Some(Operator {
            set,
            base,
            negated,
            if_exists,
        })
    }
}

/// One pre-compiled policy value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// Text compared exactly (StringEquals) or case-insensitively (IgnoreCase, Bool).
    Text(Box<str>),
    /// Text with policy variables.
    TextTemplate(Template),
    /// `StringLike` pattern.
    Like(Glob),
    /// `StringLike` pattern with variables.
    LikeTemplate(Template),
    Number(f64),
    /// Nanoseconds since the epoch.
    Date(i128),
    Bytes(Box<[u8]>),
    Net(IpNet),
    Arn(ArnPattern),
    /// `Null` operand: `true` = key must be absent.
    Absent(bool),
    /// A value that cannot be read for this operator: never matches (C6).
    Invalid,
}

/// One `operator: { key: values }` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    /// The operator as written.
    pub op_name: Box<str>,
    pub op: Operator,
    /// Lower-cased condition key.
    pub key: Box<str>,
    /// The key as written in the policy.
    pub key_name: Box<str>,
    pub values: Box<[Value]>,
}

impl Condition {
    /// Compile one condition. `vars`: policy variables are substituted (Version 2012-10-17).
    /// Values that cannot be read are recorded in `problems` (and compile to [`Value::Invalid`]).
    pub fn compile(
        op_name: &str,
        op: Operator,
        key: &str,
        raw: &[String],
        vars: bool,
        problems: &mut Vec<String>,
    ) -> Condition {
        let values = raw
            .iter()
            .map(|v| {
                compile_value(op.base, v, vars).unwrap_or_else(|e| {
                    problems.push(e);
                    Value::Invalid
                })
            })
            .collect();
        Condition {
            op_name: op_name.into(),
            op,
            key: key.to_ascii_lowercase().into_boxed_str(),
            key_name: key.into(),
            values,
        }
    }

    /// Condition keys this condition reads: its key and any variables in its values.
    pub fn keys(&self, out: &mut Vec<String>) {
        out.push(self.key.to_string());
        for v in self.values.iter() {
            match v {
                Value::TextTemplate(t) | Value::LikeTemplate(t) => {
                    out.extend(t.keys().map(str::to_string))
                }
                Value::Arn(a) => out.extend(a.keys()),
                _ => {}
            }
        }
    }

    /// Like [`Condition::keys`], with the condition key as written.
    pub fn keys_as_written(&self, out: &mut Vec<String>) {
        let start = out.len();
        self.keys(out);
        if let Some(first) = out.get_mut(start) {
            *first = self.key_name.to_string();
        }
    }

    /// Evaluate against the request.
    pub fn eval(&self, ctx: &RequestContext) -> bool {
        let found = ctx.get_lower(&self.key);
        if self.op.base == Base::Null {
            let present = !null_dataset(found);
            return self.values.iter().any(|v| match v {
                Value::Absent(want_absent) => *want_absent != present,
                _ => false,
            });
        }
        let op = self.op;
        match op.set {
            SetOp::Single => match found {
                None => op.if_exists || op.negated,
                Some(ContextValue::Single(r)) => self.one(r, ctx),
                Some(ContextValue::Multi(rs)) => match rs.as_slice() {
                    [] => op.if_exists || op.negated,
                    [r] => self.one(r, ctx),
                    // CHOICE §3.3: a single-valued operator does not match an array value.
                    _ => false,
                },
            },
            // AWS: ForAllValues "also returns true if there are no context keys in the request
            // or if the context key value resolves to a null dataset, such as an empty string";
            // ForAnyValue returns false "for no matching context key or a null dataset".
            SetOp::ForAll => match found {
                None => true,
                Some(v) if null_dataset(Some(v)) => true,
                Some(ContextValue::Single(r)) => self.one(r, ctx),
                Some(ContextValue::Multi(rs)) => rs.iter().all(|r| self.one(r, ctx)),
            },
            SetOp::ForAny => match found {
                None => op.if_exists,
                Some(v) if null_dataset(Some(v)) => false,
                Some(ContextValue::Single(r)) => self.one(r, ctx),
                Some(ContextValue::Multi(rs)) => rs.iter().any(|r| self.one(r, ctx)),
            },
        }
    }

    /// `m(r, P)`: any value matches (positive) or none matches (negated).
    #[inline]
    fn one(&self, r: &str, ctx: &RequestContext) -> bool {
        let any = self
            .values
            .iter()
            .any(|v| base_match(self.op.base, r, v, ctx));
        any != self.op.negated
    }
}

/// An absent key, or one whose value "resolves to a null dataset, such as an empty string"
/// (IAM User Guide, multivalued context keys): no value, an empty string, an empty list or a
/// list of empty strings. `Null` calls such a key null (C5).
#[inline]
fn null_dataset(found: Option<&ContextValue>) -> bool {
    match found {
        None => true,
        Some(ContextValue::Single(v)) => v.is_empty(),
        Some(ContextValue::Multi(vs)) => vs.iter().all(String::is_empty),
    }
}

fn base_match(base: Base, r: &str, v: &Value, ctx: &RequestContext) -> bool {
    match (base, v) {
        (_, Value::Invalid) => false,
        (Base::StringEquals, Value::Text(p)) => r == &**p,
        (Base::StringEqualsIgnoreCase | Base::Bool, Value::Text(p)) => eq_ignore_case(r, p),
        (Base::StringEquals, Value::TextTemplate(t)) => {
            t.resolve_string(ctx).is_some_and(|p| r == p)
        }
        (Base::StringEqualsIgnoreCase | Base::Bool, Value::TextTemplate(t)) => {
            t.resolve_string(ctx).is_some_and(|p| eq_ignore_case(r, &p))
        }
        (Base::StringLike, Value::Like(g)) => g.matches(r, false),
        (Base::StringLike, Value::LikeTemplate(t)) => t
            .resolve(ctx)
            .is_some_and(|pieces| Glob::from_pieces(&pieces, false).matches(r, false)),
        (Base::Numeric(c), Value::Number(p)) => parse_number(r).is_some_and(|n| c.test(n, *p)),
        (Base::Date(c), Value::Date(p)) => parse_date(r).is_some_and(|d| c.test(d, *p)),
        (Base::Binary, Value::Bytes(p)) => {
            match base64::engine::general_purpose::STANDARD.decode(r) {
                Ok(bytes) => bytes.as_slice() == &**p,
                Err(_) => r.as_bytes() == &**p,
            }
        }
        (Base::Ip, Value::Net(net)) => parse_ip(r).is_some_and(|ip| net.contains(&ip)),
        (Base::Arn, Value::Arn(a)) => a.matches(r, ctx),
        _ => false,
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

fn compile_value(base: Base, v: &str, vars: bool) -> Result<Value, String> {
    let template = || if vars { Template::parse(v) } else { None };
    Ok(match base {
        Base::StringEquals | Base::StringEqualsIgnoreCase => match template() {
            Some(t) => Value::TextTemplate(t),
            None => Value::Text(v.into()),
        },
        Base::Bool => match template() {
            Some(t) => Value::TextTemplate(t),
            None if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") => {
                Value::Text(v.into())
            }
            None => return Err(format!("\"{v}\" is not a boolean")),
        },
        Base::StringLike => match template() {
            Some(t) => Value::LikeTemplate(t),
            None => Value::Like(Glob::new(v, false)),
        },
        Base::Numeric(_) => {
            Value::Number(parse_number(v).ok_or_else(|| format!("\"{v}\" is not a number"))?)
        }
        Base::Date(_) => {
            Value::Date(parse_date(v).ok_or_else(|| format!("\"{v}\" is not a date"))?)
        }
        Base::Binary => Value::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(v)
                .map_err(|_| format!("\"{v}\" is not base64"))?
                .into_boxed_slice(),
        ),
        Base::Ip => {
            Value::Net(parse_net(v).ok_or_else(|| format!("\"{v}\" is not an IP address or CIDR"))?)
        }
        // A value that is not ARN-shaped can never match an ARN (no error: AWS accepts it).
        Base::Arn => ArnPattern::compile(v, vars).map_or(Value::Invalid, Value::Arn),
        Base::Null => {
            if v.eq_ignore_ascii_case("true") {
                Value::Absent(true)
            } else if v.eq_ignore_ascii_case("false") {
                Value::Absent(false)
            } else {
                return Err(format!("Null takes \"true\" or \"false\", not \"{v}\""));
            }
        }
    })
}

/// A finite decimal number.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn parse_net(s: &str) -> Option<IpNet> {
    let t = s.trim();
    if let Ok(n) = t.parse::<IpNet>() {
        return Some(n.trunc());
    }
    t.parse::<IpAddr>().ok().map(IpNet::from)
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let t = s.trim();
    t.parse::<IpAddr>()
        .ok()
        .or_else(|| t.parse::<IpNet>().ok().map(|n| n.addr()))
}

/// An instant in nanoseconds since the epoch: W3C ISO-8601 (`2020-01-01`, `2020-01-01T00:00Z`,
/// `2020-01-01T00:00:01.5+02:00`; no zone = UTC) or epoch seconds (integer or decimal).
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') && t.len() < 30 {
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if int.is_empty() {
            return None;
        }
        let secs: i128 = int.parse().ok()?;
        return Some(secs * 1_000_000_000 + frac_nanos(frac)?);
    }
    let b = t.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let sl = b.get(from..from + len)?;
        if !sl.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(sl).ok()?.parse().ok()
    };
    let year = num(0, 4)?;
    let (mut month, mut day) = (1, 1);
    let mut i = 4;
    if b.get(i) == Some(&b'-') {
        month = num(5, 2)?;
        i = 7;
        if b.get(i) == Some(&b'-') {
            day = num(8, 2)?;
            i = 10;
        }
    }
    if !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) {
        return None;
    }
    let (mut hh, mut mm, mut ss, mut nanos) = (0i64, 0i64, 0i64, 0i128);
    let mut offset_secs = 0i64;
    if matches!(b.get(i), Some(b'T' | b't')) {
        hh = num(i + 1, 2)?;
        if b.get(i + 3) != Some(&b':') {
            return None;
        }
        mm = num(i + 4, 2)?;
        i += 6;
        if b.get(i) == Some(&b':') {
            ss = num(i + 1, 2)?;
            i += 3;
            if b.get(i) == Some(&b'.') {
                let start = i + 1;
                let mut end = start;
                while b.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
                nanos = frac_nanos(t.get(start..end)?)?;
                i = end;
            }
        }
        if hh > 24 || mm > 59 || ss > 60 {
            return None;
        }
        match b.get(i) {
            None => {}
            Some(b'Z' | b'z') => i += 1,
            Some(sign @ (b'+' | b'-')) => {
                let oh = num(i + 1, 2)?;
                if b.get(i + 3) != Some(&b':') {
                    return None;
                }
                let om = num(i + 4, 2)?;
                let off = oh * 3600 + om * 60;
                offset_secs = if *sign == b'+' { off } else { -off };
                i += 6;
            }
            Some(_) => return None,
        }
    }
    if i != b.len() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss - offset_secs;
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

fn frac_nanos(frac: &str) -> Option<i128> {
    if frac.is_empty() {
        return Some(0);
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    digits.parse().ok()
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

/// Days since 1970-01-01 (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_date("1970-01-02"), Some(86_400 * 1_000_000_000));
        assert_eq!(parse_date("86400"), Some(86_400 * 1_000_000_000));
        assert_eq!(
            parse_date("2020-01-01T01:00:00+01:00"),
            parse_date("2020-01-01T00:00:00Z")
        );
        assert_eq!(
            parse_date("2020-01-01T00:00:00.5Z").map(|n| n % 1_000_000_000),
            Some(500_000_000)
        );
        assert!(parse_date("2020-13-01").is_none());
        assert!(parse_date("2021-02-29").is_none());
        assert!(parse_date("yesterday").is_none());
        assert!(parse_date("2020-01-01T00:00:00Q").is_none());
    }

    #[test]
    fn operators_parse() {
        assert!(
            Operator::parse("ForAllValues:StringNotEqualsIfExists").is_some_and(|o| {
                o.set == SetOp::ForAll && o.negated && o.if_exists && o.base == Base::StringEquals
            })
        );
        assert!(Operator::parse("NullIfExists").is_none());
        assert!(Operator::parse("ForAnyValue:Null").is_none());
        assert!(Operator::parse("StringFoo").is_none());
        assert!(Operator::parse("stringequals").is_none());
        assert!(Operator::parse("forallvalues:StringEquals").is_none());
        assert!(Operator::parse("StringEqualsifexists").is_none());
        assert!(Operator::parse("StringEquals").is_some());
    }
}
