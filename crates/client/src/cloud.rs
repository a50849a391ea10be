//! localcloud's `/cloud/v1` API, called as a cloud principal ([`Client`] built with
//! `principal`). Bodies and answers are generic: the resource types are localcloud's
//! `types` module, which a caller that has localcloud at hand decodes into; this crate does
//! not depend on localcloud (nor on anything of the control plane).

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::{Call, Client, Reply};
use crate::error::Result;

/// The `/cloud/v1` API of a [`Client`]: every call sends the bearer (operator) token and
/// the principal header.
#[derive(Clone, Copy)]
pub struct Cloud<'a> {
    client: &'a Client,
}

impl Client {
    /// The `/cloud/v1` API of this server.
    pub fn cloud(&self) -> Cloud<'_> {
        Cloud { client: self }
    }
}

impl<'a> Cloud<'a> {
    /// A call to `path` below `/cloud/v1` (with its query string, as written), e.g.
    /// `/subnets?vpcId=vpc-1`.
    pub fn call(&self, method: Method, path: &str) -> Call<'a> {
        self.client
            .call_path(method, &format!("/cloud/v1{path}"))
            .with_principal()
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::GET, path).send_json().await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        self.call(Method::POST, path).json(body).send_json().await
    }

    pub async fn patch<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        self.call(Method::PATCH, path).json(body).send_json().await
    }

    pub async fn put<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        self.call(Method::PUT, path).json(body).send_json().await
    }

    /// DELETE; the answer (often empty: `Null`).
    pub async fn delete(&self, path: &str) -> Result<Reply> {
        self.call(Method::DELETE, path).send().await
    }

    /// The items of a list (a bare array on `/cloud/v1`).
    pub async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>> {
        self.get(path).await
    }
}
