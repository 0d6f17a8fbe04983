//! The OpenAPI document is generated from the handlers' own declarations; client apps generate
//! code from it. These keep it honest: which routes exist, where parameters go, which answers
//! each operation can give and in which media type.

use std::collections::BTreeSet;

use serde_json::Value;

/// The document as clients download it.
fn document() -> Value {
    let (_router, openapi) = core_api::api_description();
    serde_json::to_value(&openapi).expect("the document serializes")
}

/// Every operation: `("GET /gigs", operation)`.
fn operations(document: &Value) -> Vec<(String, String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if let Some(operation) = item.get(method) {
                found.push((
                    format!("{} {path}", method.to_uppercase()),
                    path.clone(),
                    operation,
                ));
            }
        }
    }
    found
}

/// Follows a `$ref` into the components, or the value itself.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            document
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling reference {reference}"))
        }
        None => value,
    }
}

fn responses(operation: &Value) -> &serde_json::Map<String, Value> {
    operation["responses"].as_object().expect("responses")
}

#[test]
fn the_openapi_document_lists_every_api_route_with_its_methods() {
    let (_router, openapi) = core_api::api_description();
    let documented: BTreeSet<String> = openapi
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            let methods = [
                ("GET", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PATCH", item.patch.is_some()),
                ("PUT", item.put.is_some()),
                ("DELETE", item.delete.is_some()),
            ];
            methods
                .into_iter()
                .filter(|(_, present)| *present)
                .map(move |(method, _)| format!("{method} {path}"))
        })
        .collect();
    let expected: BTreeSet<String> = [
        "POST /auth/register",
        "POST /auth/login",
        "POST /auth/refresh",
        "POST /auth/logout",
        "GET /auth/me",
        "POST /auth/password-reset",
        "POST /auth/password-reset/confirm",
        "GET /influencers/me",
        "PATCH /influencers/me",
        "GET /influencers/{id}",
        "GET /brands/me",
        "PATCH /brands/me",
        "PATCH /admin/users/{id}",
        "GET /admin/audit-log",
        "POST /gigs",
        "GET /gigs",
        "GET /gigs/{id}",
        "PATCH /gigs/{id}",
        "POST /gigs/{id}/publish",
        "POST /gigs/{id}/archive",
        "PUT /gigs/{id}/members",
        "POST /gigs/{id}/membership/accept",
        "POST /gigs/{id}/membership/decline",
        "GET /gigs/{id}/slots",
        "POST /bookings",
        "GET /bookings",
        "GET /bookings/{id}",
        "POST /bookings/{id}/cancel",
        "POST /bookings/{id}/deliver",
        "POST /bookings/{id}/approve",
        "POST /bookings/{id}/revisions",
        "POST /bookings/{id}/review",
        "GET /bookings/{id}/review",
        "POST /bookings/{id}/review/reply",
        "GET /influencers/{id}/reviews",
        "GET /me/earnings",
        "GET /me/spending",
        "GET /me/payout-account",
        "POST /me/payout-account",
        "GET /availability",
        "PUT /availability/weekly",
        "PUT /availability/overrides/{date}",
        "DELETE /availability/overrides/{date}",
        "GET /notifications",
        "POST /notifications/{id}/read",
        "POST /notifications/read-all",
        "POST /conversations",
        "GET /conversations",
        "GET /conversations/{id}",
        "GET /conversations/{id}/messages",
        "POST /conversations/{id}/messages",
        "POST /conversations/{id}/read",
        "POST /payments/webhook",
        "GET /search/influencers",
        "GET /search/gigs",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(documented, expected);
}

/// Client generators name a function per operation id: two operations with one id break them
/// (and the OpenAPI rules).
#[test]
fn every_operation_has_an_id_of_its_own() {
    let document = document();
    let mut seen = std::collections::BTreeMap::new();
    for (operation, _, definition) in operations(&document) {
        let id = definition["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{operation} has no operationId"))
            .to_owned();
        if let Some(first) = seen.insert(id.clone(), operation.clone()) {
            panic!("{first} and {operation} share the operationId {id}");
        }
    }
}

#[test]
fn every_parameter_is_documented_where_clients_send_it() {
    let document = document();
    for (operation, path, definition) in operations(&document) {
        for parameter in definition["parameters"].as_array().into_iter().flatten() {
            let parameter = resolve(&document, parameter);
            let name = parameter["name"].as_str().expect("a parameter name");
            let in_template = path.contains(&format!("{{{name}}}"));
            let place = parameter["in"].as_str().expect("a parameter place");
            assert_eq!(
                in_template,
                place == "path",
                "{operation}: parameter {name} is documented `in: {place}`"
            );
            if place == "query" && name == "limit" {
                assert_eq!(parameter["schema"]["minimum"], 1, "{operation}: limit");
                assert_eq!(parameter["schema"]["maximum"], 100, "{operation}: limit");
            }
        }
    }
}

#[test]
fn every_response_has_a_description() {
    let document = document();
    for (operation, _, definition) in operations(&document) {
        for (status, response) in responses(definition) {
            let response = resolve(&document, response);
            let description = response["description"].as_str().unwrap_or_default();
            assert!(
                !description.trim().is_empty(),
                "{operation}: {status} has no description"
            );
        }
    }
}

#[test]
fn every_error_is_documented_as_a_problem_document() {
    let document = document();
    for (operation, _, definition) in operations(&document) {
        for (status, response) in responses(definition) {
            if !(status.starts_with('4') || status.starts_with('5')) {
                continue;
            }
            let content = resolve(&document, response)["content"]
                .as_object()
                .unwrap_or_else(|| panic!("{operation}: {status} has no content"));
            let media_types: Vec<&String> = content.keys().collect();
            assert_eq!(
                media_types,
                ["application/problem+json"],
                "{operation}: {status}"
            );
            assert_eq!(
                content["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/ProblemDoc",
                "{operation}: {status}"
            );
        }
    }
}

#[test]
fn operations_with_a_json_body_document_every_way_a_body_is_refused() {
    let document = document();
    for (operation, _, definition) in operations(&document) {
        // Stripe's webhook takes its body as bytes, whatever they are: what Stripe did not sign
        // is a 400 (and too much a 413), never a 415 or a 422.
        let statuses: &[&str] = if operation == "POST /payments/webhook" {
            &["400", "413"]
        } else {
            &["400", "413", "415", "422"]
        };
        if definition.get("requestBody").is_none() {
            continue;
        }
        let documented = responses(definition);
        for status in statuses {
            assert!(
                documented.contains_key(*status),
                "{operation} reads a body but does not document {status}"
            );
        }
    }
}

#[test]
fn secured_operations_document_401_and_every_operation_some_error() {
    let document = document();
    for (operation, path, definition) in operations(&document) {
        let documented = responses(definition);
        let secured = definition["security"]
            .as_array()
            .is_some_and(|requirements| !requirements.is_empty());
        if secured {
            assert!(
                documented.contains_key("401"),
                "{operation} does not document 401"
            );
        }
        if path.contains('{') {
            assert!(
                documented.contains_key("400"),
                "{operation}: undecodable path parameter"
            );
        }
        if path.contains("{id}") {
            assert!(
                documented.contains_key("404"),
                "{operation}: unknown object"
            );
        }
        if definition["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| resolve(&document, p)["in"] == "query")
        {
            assert!(documented.contains_key("422"), "{operation}: invalid query");
        }
        assert!(
            documented.contains_key("503"),
            "{operation}: store unavailable"
        );
    }
}

#[test]
fn enumerated_values_are_documented_as_enums() {
    let document = document();
    let schemas = &document["components"]["schemas"];
    let enumerated = |schema: &str, property: &str| -> Vec<String> {
        let property = resolve(&document, &schemas[schema]["properties"][property]);
        let values = property["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema}.{property} is not an enum"));
        values
            .iter()
            .map(|v| v.as_str().expect("a string value").to_owned())
            .collect()
    };
    assert_eq!(
        enumerated("UserView", "role"),
        ["brand", "influencer", "admin"]
    );
    assert_eq!(enumerated("UserView", "status"), ["active", "suspended"]);
    assert_eq!(
        enumerated("GigView", "status"),
        ["draft", "published", "archived"]
    );
    assert_eq!(
        enumerated("MemberView", "state"),
        ["invited", "accepted", "declined"]
    );
    assert_eq!(
        enumerated("RegisterRequest", "role"),
        ["brand", "influencer"]
    );
    assert_eq!(enumerated("UserUpdate", "status"), ["active", "suspended"]);
    let platforms = enumerated("GigView", "platform");
    assert_eq!(platforms.len(), 9);
    for platform in &platforms {
        let parsed: noillin_domain::SocialPlatform =
            serde_json::from_value(Value::String(platform.clone())).expect("a domain platform");
        assert_eq!(serde_json::to_value(parsed).unwrap(), platform.as_str());
    }
    for schema in ["NewGig", "SocialAccountView"] {
        assert_eq!(enumerated(schema, "platform"), platforms, "{schema}");
    }
    let kinds = enumerated("NotificationView", "kind");
    let domain_kinds: Vec<&str> = noillin_domain::notification::NotificationKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(kinds, domain_kinds);
}

#[test]
fn availability_bodies_are_described_not_free_objects() {
    let document = document();
    let body = |operation: &Value| -> Value {
        resolve(
            &document,
            &operation["requestBody"]["content"]["application/json"]["schema"],
        )
        .clone()
    };
    let weekly = body(&document["paths"]["/availability/weekly"]["put"]);
    assert_eq!(
        weekly["properties"]["monday"]["items"]["$ref"],
        "#/components/schemas/LocalWindow"
    );
    let one_date = body(&document["paths"]["/availability/overrides/{date}"]["put"]);
    let kinds: BTreeSet<String> = one_date["oneOf"]
        .as_array()
        .expect("an override is one of its kinds")
        .iter()
        .map(|kind| {
            kind["properties"]["kind"]["enum"][0]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds, BTreeSet::from(["blocked".into(), "windows".into()]));
    let window = &document["components"]["schemas"]["LocalWindow"];
    assert!(window["properties"]["start"]["pattern"].is_string());
}

#[test]
fn the_document_names_the_api_not_the_crate() {
    let document = document();
    assert_eq!(document["info"]["title"], "Noillin API");
    assert_eq!(document["info"]["version"], "1.0.0");
    assert!(
        document["info"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("problem")),
        "{}",
        document["info"]
    );
    assert!(document["info"].get("license").is_none());
}
