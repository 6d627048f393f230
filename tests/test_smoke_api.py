"""The API starts, serves its OpenAPI document and answers errors as problem details."""

import httpx


async def test_openapi_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/cameras" in response.json()["paths"]


async def test_unauthenticated_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/cameras")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["title"] == "Authentication required"
