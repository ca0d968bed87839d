//! The registry covers exactly what the spec documents: no pair without a case, no case
//! without a pair.

use std::io::Write as _;

use openapiv3::{OpenAPI, ReferenceOr, StatusCode};
use signalwire_codegen::Spec;
use signalwire_fabric_contract_tests::cases::{
    Expected, REQUEST_CASES, RESPONSE_CASES, RequestBody, RequestCase, ResponseCase,
};
use signalwire_fabric_contract_tests::coverage::{check, documented_pairs};
use signalwire_fabric_contract_tests::{response_examples, spec};

use crate::beyond_spec::SCENARIOS;
use crate::support::{slug, snapshot_dir};

const REFRESH: &str = "refresh_subscriber_token";
const REFRESH_PATH: &str = "/api/fabric/subscribers/tokens/refresh";

/// The spec, changed by `edit` and loaded again through the same checks.
fn edited_spec(edit: impl FnOnce(&mut OpenAPI)) -> Spec {
    let mut document = spec().document().clone();
    edit(&mut document);
    // JSON is YAML, so the edited document goes through `Spec::parse` like the file does.
    let text = serde_json::to_string(&document).expect("an OpenAPI document serializes");
    Spec::parse(&text).expect("the edited spec still satisfies the project's invariants")
}

fn refresh_post(document: &mut OpenAPI) -> &mut openapiv3::Operation {
    match document.paths.paths.get_mut(REFRESH_PATH) {
        Some(ReferenceOr::Item(item)) => item.post.as_mut().expect("refresh is a POST"),
        other => panic!("{REFRESH_PATH} is not in the spec: {other:?}"),
    }
}

#[test]
fn every_documented_status_of_every_operation_has_exactly_one_contract_case() {
    let spec = spec();
    let coverage = check(&spec, REQUEST_CASES, RESPONSE_CASES);
    // Written past the test harness's capture, so the table shows in every run's output.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "\n{}\n", coverage.table());
    assert!(
        coverage.is_complete(),
        "the contract registry (tests/src/cases.rs) disagrees with the spec:\n{}",
        coverage.problems.join("\n")
    );
    assert_eq!(coverage.covered(), documented_pairs(&spec).len());
    assert!(
        coverage.table().ends_with(&format!(
            "covered {0} of {0}",
            documented_pairs(&spec).len()
        )),
        "{}",
        coverage.table()
    );
}

#[test]
fn a_documented_pair_without_a_case_is_named_as_missing() {
    let spec = spec();
    let without_refresh_422: Vec<ResponseCase> = RESPONSE_CASES
        .iter()
        .copied()
        .filter(|case| !(case.operation == REFRESH && case.status == 422))
        .collect();
    let coverage = check(&spec, REQUEST_CASES, &without_refresh_422);
    assert_eq!(
        coverage.problems,
        vec![format!(
            "missing: {REFRESH} 422 is documented but has no response case"
        )]
    );
    assert_eq!(coverage.covered() + 1, coverage.documented());
    assert!(coverage.table().contains("MISSING"), "{}", coverage.table());
}

#[test]
fn a_case_for_a_status_the_spec_does_not_document_is_stale() {
    let spec = spec();
    let mut cases = RESPONSE_CASES.to_vec();
    cases.push(ResponseCase {
        operation: REFRESH,
        status: 503,
        expected: Expected::ServerError,
    });
    cases.push(ResponseCase {
        operation: "revoke_subscriber_token",
        status: 200,
        expected: Expected::TokenPair,
    });
    let coverage = check(&spec, REQUEST_CASES, &cases);
    assert!(!coverage.is_complete());
    assert_eq!(
        coverage.problems,
        vec![
            format!(
                "stale: the response case {REFRESH} 503 names a pair the spec does not document"
            ),
            "stale: the response case revoke_subscriber_token 200 names a pair the spec does not document"
                .to_owned(),
        ]
    );
}

#[test]
fn stale_and_duplicate_request_cases_are_reported() {
    let spec = spec();
    let mut cases = REQUEST_CASES.to_vec();
    cases.push(RequestCase {
        operation: REFRESH,
        name: "from_an_example_that_is_gone",
        body: RequestBody::SpecExample("no_such_example"),
    });
    cases.push(RequestCase {
        operation: "revoke_subscriber_token",
        name: "revoke",
        body: RequestBody::EveryProperty,
    });
    cases.push(REQUEST_CASES[0]);
    let coverage = check(&spec, &cases, RESPONSE_CASES);
    let problems = coverage.problems.join("\n");
    assert_eq!(coverage.problems.len(), 3, "{problems}");
    for expected in [
        "from_an_example_that_is_gone names a request example `no_such_example` the spec does not have",
        "revoke_subscriber_token/revoke names an operation the spec does not have",
        "duplicate: the request case name create_subscriber_token/minimal",
    ] {
        assert!(
            problems.contains(expected),
            "{expected:?} not in:\n{problems}"
        );
    }
}

#[test]
fn a_duplicate_or_impossible_expectation_is_reported() {
    let spec = spec();
    let mut cases = RESPONSE_CASES.to_vec();
    cases.push(ResponseCase {
        operation: REFRESH,
        status: 201,
        expected: Expected::TokenPair,
    });
    for case in &mut cases {
        if case.operation == REFRESH && case.status == 401 {
            case.expected = Expected::NotFound;
        }
    }
    let coverage = check(&spec, REQUEST_CASES, &cases);
    assert_eq!(
        coverage.problems,
        vec![
            format!("duplicate: {REFRESH} 201 has 2 response cases; register exactly one"),
            format!(
                "mismatch: {REFRESH} 401 is registered as Error::NotFound, which no 401 response can be"
            ),
        ]
    );
}

#[test]
fn a_success_registered_against_the_body_the_spec_documents_is_a_mismatch() {
    let spec = spec();
    let mut cases = RESPONSE_CASES.to_vec();
    for case in &mut cases {
        match (case.operation, case.status) {
            ("delete_subscriber", 204) => case.expected = Expected::Subscriber,
            ("get_subscriber", 200) => case.expected = Expected::NoContent,
            _ => {}
        }
    }
    let coverage = check(&spec, REQUEST_CASES, &cases);
    assert_eq!(
        coverage.problems,
        vec![
            "mismatch: get_subscriber 200 is registered as Ok(()), which no 200 response can be"
                .to_owned(),
            "mismatch: get_subscriber 200 is registered as Ok(()), but the spec documents it with a body"
                .to_owned(),
            "mismatch: delete_subscriber 204 is registered as Ok(subscriber), but the spec documents it without a body"
                .to_owned(),
        ]
    );
}

#[test]
fn a_request_case_whose_body_disagrees_with_the_operation_is_a_mismatch() {
    let spec = spec();
    let mut cases = REQUEST_CASES.to_vec();
    cases.push(RequestCase {
        operation: "create_subscriber",
        name: "without_a_body",
        body: RequestBody::None,
    });
    cases.push(RequestCase {
        operation: "get_subscriber",
        name: "with_a_body",
        body: RequestBody::RequiredOnly,
    });
    let coverage = check(&spec, &cases, RESPONSE_CASES);
    assert_eq!(
        coverage.problems,
        vec![
            "mismatch: the request case create_subscriber/without_a_body sends no body, but create_subscriber takes one"
                .to_owned(),
            "mismatch: the request case get_subscriber/with_a_body asks for required properties only, but get_subscriber takes no body"
                .to_owned(),
        ]
    );
}

#[test]
fn credentials_the_suite_cannot_check_are_reported_not_read_as_none() {
    let requirement = |names: &[&str]| -> openapiv3::SecurityRequirement {
        names
            .iter()
            .map(|name| ((*name).to_owned(), Vec::new()))
            .collect()
    };
    let spec = edited_spec(|document| {
        refresh_post(document).security = Some(vec![
            requirement(&["basicAuth"]),
            requirement(&["bearerAuth"]),
        ]);
    });
    let coverage = check(&spec, REQUEST_CASES, RESPONSE_CASES);
    assert_eq!(
        coverage.problems,
        vec![format!(
            "unchecked: {REFRESH}: 2 alternative security requirements; the suite checks one"
        )]
    );
    assert!(
        coverage.table().contains("UNCHECKED"),
        "{}",
        coverage.table()
    );

    let spec = edited_spec(|document| {
        refresh_post(document).security = Some(vec![requirement(&["oauth"])]);
    });
    assert_eq!(
        check(&spec, REQUEST_CASES, RESPONSE_CASES).problems,
        vec![format!(
            "unchecked: {REFRESH}: security scheme oauth is not HTTP basic or bearer"
        )]
    );

    let spec = edited_spec(|document| {
        refresh_post(document).security = Some(Vec::new());
    });
    assert!(check(&spec, REQUEST_CASES, RESPONSE_CASES).is_complete());
    assert_eq!(
        signalwire_fabric_contract_tests::credentials(&spec, REFRESH),
        signalwire_fabric_contract_tests::Credentials::None
    );
}

#[test]
fn a_status_added_to_the_spec_fails_coverage_until_a_case_is_registered() {
    let spec = edited_spec(|document| {
        refresh_post(document).responses.responses.insert(
            StatusCode::Code(403),
            ReferenceOr::ref_("#/components/responses/Unauthorized"),
        );
    });
    let coverage = check(&spec, REQUEST_CASES, RESPONSE_CASES);
    assert_eq!(
        coverage.problems,
        vec![format!(
            "missing: {REFRESH} 403 is documented but has no response case"
        )]
    );
    let mut cases = RESPONSE_CASES.to_vec();
    cases.push(ResponseCase {
        operation: REFRESH,
        status: 403,
        expected: Expected::Forbidden,
    });
    assert!(check(&spec, REQUEST_CASES, &cases).is_complete());
}

#[test]
fn an_operation_added_to_the_spec_needs_request_and_response_cases() {
    let spec = edited_spec(|document| {
        let mut revoke = refresh_post(document).clone();
        revoke.operation_id = Some("revoke_subscriber_token".to_owned());
        let item = openapiv3::PathItem {
            post: Some(revoke),
            ..Default::default()
        };
        document.paths.paths.insert(
            "/api/fabric/subscribers/tokens/revoke".to_owned(),
            ReferenceOr::Item(item),
        );
    });
    let coverage = check(&spec, REQUEST_CASES, RESPONSE_CASES);
    let missing: Vec<&String> = coverage
        .problems
        .iter()
        .filter(|problem| problem.contains("revoke_subscriber_token"))
        .collect();
    assert_eq!(
        missing.len(),
        coverage.problems.len(),
        "{:?}",
        coverage.problems
    );
    assert_eq!(
        missing.len(),
        spec.operation("revoke_subscriber_token")
            .expect("added")
            .statuses()
            .count()
            + 1,
        "one per documented status, and one for the missing request case: {missing:#?}"
    );
    assert!(
        coverage
            .problems
            .contains(&"missing: revoke_subscriber_token has no request case".to_owned())
    );
}

#[test]
fn every_snapshot_file_belongs_to_a_registered_case_or_scenario() {
    let spec = spec();
    let mut expected: Vec<String> = REQUEST_CASES
        .iter()
        .map(|case| format!("request__{}__{}", case.operation, case.name))
        .collect();
    for case in RESPONSE_CASES {
        for (name, _) in response_examples(&spec, case.operation, case.status) {
            expected.push(format!(
                "response__{}__{}__{}",
                case.operation,
                case.status,
                slug(&name)
            ));
        }
    }
    for case in RESPONSE_CASES {
        // A response without a body is served once, as `no_body`.
        if signalwire_fabric_contract_tests::response_media(&spec, case.operation, case.status)
            .is_none()
        {
            expected.push(format!(
                "response__{}__{}__no_body",
                case.operation, case.status
            ));
        }
    }
    for operation in spec.operations() {
        for scenario in SCENARIOS {
            expected.push(format!("beyond__{scenario}__{}", operation.id));
        }
    }
    expected.extend(crate::paging::snapshot_names());
    expected.extend(
        crate::client_validation::SNAPSHOTS
            .iter()
            .map(|name| (*name).to_owned()),
    );
    let dir = snapshot_dir();
    let orphans: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| {
            name.strip_suffix(".snap")
                .is_none_or(|stem| !expected.iter().any(|wanted| wanted == stem))
        })
        .collect();
    assert!(
        orphans.is_empty(),
        "files in {} that no case or scenario writes (delete them, or the case that lost \
         them is missing): {orphans:?}",
        dir.display()
    );
}
