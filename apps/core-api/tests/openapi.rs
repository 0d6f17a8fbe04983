//! The OpenAPI document is generated from the handlers' own declarations; this keeps it honest
//! about which routes exist.

use std::collections::BTreeSet;

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
        "GET /availability",
        "PUT /availability/weekly",
        "PUT /availability/overrides/{date}",
        "DELETE /availability/overrides/{date}",
        "GET /notifications",
        "POST /notifications/{id}/read",
        "POST /notifications/read-all",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(documented, expected);
}

#[test]
fn every_documented_operation_declares_its_error_responses() {
    let (_router, openapi) = core_api::api_description();
    for (path, item) in &openapi.paths.paths {
        for operation in [&item.get, &item.post, &item.patch, &item.put, &item.delete]
            .into_iter()
            .flatten()
        {
            let has_error = operation
                .responses
                .responses
                .keys()
                .any(|status| status.starts_with('4'));
            assert!(has_error, "{path} documents no 4xx response");
        }
    }
}

#[test]
fn every_parameter_is_documented_where_clients_send_it() {
    use utoipa::openapi::{RefOr, path::ParameterIn};
    let (_router, openapi) = core_api::api_description();
    for (path, item) in &openapi.paths.paths {
        for operation in [&item.get, &item.post, &item.patch, &item.put, &item.delete]
            .into_iter()
            .flatten()
        {
            for parameter in operation.parameters.iter().flatten() {
                let RefOr::T(parameter) = parameter else {
                    panic!("{path}: a parameter by reference");
                };
                let in_path = path.contains(&format!("{{{}}}", parameter.name));
                let documented_in_path = matches!(parameter.parameter_in, ParameterIn::Path);
                assert_eq!(
                    in_path, documented_in_path,
                    "{path}: parameter {} is documented in the wrong place",
                    parameter.name
                );
            }
        }
    }
}
