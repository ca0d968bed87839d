//! Which documented (operationId, status) pairs the registry covers, and what is wrong
//! with it when it does not match the spec.

use std::fmt::Write as _;

use signalwire_codegen::Spec;

use crate::Credentials;
use crate::cases::{Expected, RequestBody, RequestCase, ResponseCase};

/// One documented (operationId, status) pair and the case registered for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The operationId.
    pub operation: String,
    /// The documented status.
    pub status: u16,
    /// How many examples the spec gives for this response.
    pub examples: usize,
    /// What the registered case expects, if there is one.
    pub expected: Option<Expected>,
}

/// The registry compared with the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// Every documented pair, in spec order.
    pub rows: Vec<Row>,
    /// Each operation with the credentials the spec documents for it (`None` when the
    /// suite cannot check them) and the names of its request cases, in spec order.
    pub requests: Vec<(String, Option<Credentials>, Vec<String>)>,
    /// Everything that makes the registry disagree with the spec.
    pub problems: Vec<String>,
}

/// Every (operationId, status) pair the spec documents, in spec order.
pub fn documented_pairs(spec: &Spec) -> Vec<(String, u16)> {
    spec.operations()
        .iter()
        .flat_map(|operation| {
            operation
                .statuses()
                .map(|status| (operation.id.clone(), status))
        })
        .collect()
}

/// Compares the registered cases with `spec`.
pub fn check(
    spec: &Spec,
    request_cases: &[RequestCase],
    response_cases: &[ResponseCase],
) -> Coverage {
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    for (operation, status) in documented_pairs(spec) {
        let cases: Vec<&ResponseCase> = response_cases
            .iter()
            .filter(|case| case.operation == operation && case.status == status)
            .collect();
        if cases.is_empty() {
            problems.push(format!(
                "missing: {operation} {status} is documented but has no response case"
            ));
        }
        if cases.len() > 1 {
            problems.push(format!(
                "duplicate: {operation} {status} has {} response cases; register exactly one",
                cases.len()
            ));
        }
        if let Some(case) = cases.iter().find(|case| !case.expected.fits(status)) {
            problems.push(format!(
                "mismatch: {operation} {status} is registered as {}, which no {status} response can be",
                case.expected
            ));
        }
        if let Some(case) = cases.first()
            && case.expected.is_success()
        {
            let has_body = crate::response_media(spec, &operation, status).is_some();
            if case.expected.reads_a_body() != has_body {
                problems.push(format!(
                    "mismatch: {operation} {status} is registered as {}, but the spec documents it {} a body",
                    case.expected,
                    if has_body { "with" } else { "without" }
                ));
            }
        }
        rows.push(Row {
            examples: crate::response_examples(spec, &operation, status).len(),
            expected: cases.first().map(|case| case.expected),
            operation,
            status,
        });
    }
    for case in response_cases {
        let documented = spec
            .operation(case.operation)
            .is_some_and(|operation| operation.statuses().any(|status| status == case.status));
        if !documented {
            problems.push(format!(
                "stale: the response case {} {} names a pair the spec does not document",
                case.operation, case.status
            ));
        }
    }

    let mut requests = Vec::new();
    for operation in spec.operations() {
        let names: Vec<String> = request_cases
            .iter()
            .filter(|case| case.operation == operation.id)
            .map(|case| format!("{} ({})", case.name, case.body))
            .collect();
        if names.is_empty() {
            problems.push(format!("missing: {} has no request case", operation.id));
        }
        let credentials = match crate::documented_credentials(spec, &operation.id) {
            Ok(credentials) => Some(credentials),
            Err(problem) => {
                problems.push(format!("unchecked: {problem}"));
                None
            }
        };
        requests.push((operation.id.clone(), credentials, names));
    }
    for case in request_cases {
        if spec.operation(case.operation).is_none() {
            problems.push(format!(
                "stale: the request case {}/{} names an operation the spec does not have",
                case.operation, case.name
            ));
            continue;
        }
        let takes_a_body = crate::has_request_body(spec, case.operation);
        if case.body.sends_a_body() != takes_a_body {
            problems.push(if takes_a_body {
                format!(
                    "mismatch: the request case {}/{} sends no body, but {} takes one",
                    case.operation, case.name, case.operation
                )
            } else {
                format!(
                    "mismatch: the request case {}/{} asks for {}, but {} takes no body",
                    case.operation, case.name, case.body, case.operation
                )
            });
            continue;
        }
        if let RequestBody::SpecExample(example) = case.body {
            let known = crate::request_examples(spec, case.operation)
                .iter()
                .any(|(name, _)| name == example);
            if !known {
                problems.push(format!(
                    "stale: the request case {}/{} names a request example `{example}` the spec does not have",
                    case.operation, case.name
                ));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for case in request_cases {
        if !seen.insert((case.operation, case.name)) {
            problems.push(format!(
                "duplicate: the request case name {}/{} is registered more than once",
                case.operation, case.name
            ));
        }
    }
    Coverage {
        rows,
        requests,
        problems,
    }
}

impl Coverage {
    /// How many documented pairs there are.
    pub fn documented(&self) -> usize {
        self.rows.len()
    }

    /// How many documented pairs have a case.
    pub fn covered(&self) -> usize {
        self.rows
            .iter()
            .filter(|row| row.expected.is_some())
            .count()
    }

    /// True when every pair and operation has its case and no case is stale.
    pub fn is_complete(&self) -> bool {
        self.problems.is_empty()
    }

    /// The table the coverage test and `cargo xtask contract-coverage` print. Its last
    /// line is `covered N of M`.
    pub fn table(&self) -> String {
        let width = self
            .rows
            .iter()
            .map(|row| row.operation.len())
            .chain(self.requests.iter().map(|(operation, ..)| operation.len()))
            .max()
            .unwrap_or(0)
            .max("operation".len());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:width$}  status  examples  contract case",
            "operation"
        );
        for row in &self.rows {
            let case = row
                .expected
                .map_or_else(|| "MISSING".to_owned(), |expected| expected.to_string());
            let _ = writeln!(
                out,
                "{:width$}  {:<6}  {:<8}  {case}",
                row.operation, row.status, row.examples
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "{:width$}  credentials  request cases", "operation");
        for (operation, credentials, names) in &self.requests {
            let names = if names.is_empty() {
                "MISSING".to_owned()
            } else {
                names.join(", ")
            };
            let credentials = credentials.map_or_else(
                || "UNCHECKED".to_owned(),
                |credentials| credentials.to_string(),
            );
            let _ = writeln!(out, "{operation:width$}  {credentials:<11}  {names}");
        }
        if !self.problems.is_empty() {
            let _ = writeln!(out);
            for problem in &self.problems {
                let _ = writeln!(out, "{problem}");
            }
        }
        let _ = writeln!(out);
        let _ = write!(out, "covered {} of {}", self.covered(), self.documented());
        out
    }
}
