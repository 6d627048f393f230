"""The resource tree of the console: regions → owning units → devices → channels, lazily, with counts; search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tianyan.api.deps import CurrentPrincipal, DbSession
from tianyan.health.resources import search as tree_search
from tianyan.health.resources import tree
from tianyan.health.resources.nodes import NODE_ID_HELP, SearchResult, TreePage
from tianyan.health.resources.search import ChannelList

router = APIRouter(tags=["tree"])


@router.get("/tree", response_model=TreePage)
async def tree_children(
    principal: CurrentPrincipal,
    session: DbSession,
    node: Annotated[str | None, Query(max_length=60, description=f"omit for the roots; else {NODE_ID_HELP}")] = None,
    offset: Annotated[int, Query(ge=0, description="the next_offset of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=tree.MAX_PAGE)] = tree.DEFAULT_PAGE,
):
    """One level of the tree in the caller's scope: each group with its camera counts (total, online, fault),
    each channel with its state. Groups come first, then channels by name; `next_offset` pages on."""
    return await tree.children(session, principal=principal, node=node, offset=offset, limit=limit)


@router.get("/tree/search", response_model=SearchResult)
async def search_tree(
    principal: CurrentPrincipal,
    session: DbSession,
    q: Annotated[
        str, Query(min_length=1, max_length=tree_search.MAX_QUERY, description="name, GB ID prefix, address or label")
    ],
    limit: Annotated[int, Query(ge=1, le=tree_search.MAX_HITS)] = tree_search.DEFAULT_HITS,
):
    """Cameras in scope matching `q`, each with the tree nodes from a root down to it."""
    return await tree_search.search(session, principal=principal, q=q, limit=limit)


@router.get("/tree/channels", response_model=ChannelList)
async def tree_channels(
    principal: CurrentPrincipal,
    session: DbSession,
    gb_id: Annotated[list[str], Query(description=f"repeat for each camera, at most {tree_search.MAX_LOOKUP}")],
):
    """The channels with these GB IDs that the caller may see, as tree nodes (state, class, PTZ…), in the order
    asked; GB IDs not found or out of scope are left out."""
    return await tree_search.channels(session, principal=principal, gb_ids=gb_id)
