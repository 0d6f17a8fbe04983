//! The error answers operations share, declared once: handlers list the sets that apply to them
//! (`responses((status = 200, …), Authenticated, JsonBody)`) instead of repeating each status.
//! Every one is an RFC 9457 problem document served as `application/problem+json`.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::{
    IntoResponses, ToSchema,
    openapi::{
        ContentBuilder, HeaderBuilder, Object, RefOr, Response, ResponseBuilder, Type, schema::Ref,
    },
};

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document, as every error is answered.
#[derive(Serialize, ToSchema)]
pub struct ProblemDoc {
    /// Stable identifier of the kind of problem, e.g. `/problems/validation-failed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: Option<String>,
    /// Field errors of a 422: `[{field, code, message}]`.
    pub errors: Option<Vec<FieldErrorDoc>>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldErrorDoc {
    pub field: String,
    pub code: String,
    pub message: String,
}

/// One problem answer with its description and the headers it always carries.
pub fn problem_response(description: &str, headers: &[(&str, &str)]) -> Response {
    let mut response = ResponseBuilder::new().description(description).content(
        PROBLEM_JSON,
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ProblemDoc")))
            .build(),
    );
    for (name, description) in headers {
        response = response.header(
            *name,
            HeaderBuilder::new()
                .schema(Some(Object::with_type(Type::String)))
                .description(Some(*description))
                .build(),
        );
    }
    response.build()
}

fn problems(list: &[(&str, Response)]) -> BTreeMap<String, RefOr<Response>> {
    list.iter()
        .map(|(status, response)| ((*status).to_owned(), response.clone().into()))
        .collect()
}

/// 400 of both the body and the path sets, which many operations combine.
const MALFORMED: &str =
    "Malformed request: the body is not JSON, or a path parameter cannot be decoded";

fn unauthorized() -> Response {
    problem_response(
        "Missing, malformed, expired or revoked access token",
        &[("WWW-Authenticate", "`Bearer`")],
    )
}

/// 503: every operation reads the store (the signed-in user at least).
pub fn unavailable() -> Response {
    problem_response(
        "A backing service is unavailable; retry later",
        &[("Retry-After", "Seconds to wait before retrying")],
    )
}

/// Operations open to anyone signed in: 401.
pub struct Authenticated;

impl IntoResponses for Authenticated {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[("401", unauthorized())])
    }
}

/// Operations for one role: 401, and 403 for the other roles.
pub struct RoleRequired;

impl IntoResponses for RoleRequired {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[
            ("401", unauthorized()),
            (
                "403",
                problem_response("Signed in with a role that may not do this", &[]),
            ),
        ])
    }
}

/// Operations that read a JSON body: 400, 413, 415, 422.
pub struct JsonBody;

impl IntoResponses for JsonBody {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[
            ("400", problem_response(MALFORMED, &[])),
            (
                "413",
                problem_response("The body is larger than 64 KiB", &[]),
            ),
            (
                "415",
                problem_response("The body is not `application/json`", &[]),
            ),
            (
                "422",
                problem_response(
                    "The body has invalid, missing or unknown fields (listed in `errors`)",
                    &[],
                ),
            ),
        ])
    }
}

/// Operations with query parameters: 422 for parameters that are invalid, unknown or out of
/// range.
pub struct InvalidQuery;

impl IntoResponses for InvalidQuery {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[(
            "422",
            problem_response(
                "Invalid, unknown or out-of-range query parameters (listed in `errors`)",
                &[],
            ),
        )])
    }
}

/// Operations on an object named by `{id}`: 400 for an undecodable id, 404 for an unknown one
/// or one the caller may not see.
pub struct ObjectInPath;

impl IntoResponses for ObjectInPath {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[
            ("400", problem_response(MALFORMED, &[])),
            (
                "404",
                problem_response("No such object, or one you may not see", &[]),
            ),
        ])
    }
}

/// Conflicts with the object's current state (a concurrent change, a state that forbids it).
pub struct Conflict;

impl IntoResponses for Conflict {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[(
            "409",
            problem_response(
                "The object changed concurrently, or its state does not allow this",
                &[],
            ),
        )])
    }
}

/// Operations that add to something a caller may keep only so much of: 429.
pub struct HoldLimit;

impl IntoResponses for HoldLimit {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[(
            "429",
            problem_response(
                "You keep the most unpaid holds allowed; pay for or cancel one first",
                &[],
            ),
        )])
    }
}
