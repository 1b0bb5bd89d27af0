"""The stages' asset keys, and the inputs an asset takes, by parameter name, in one place."""

from dagster import AssetIn, AssetKey

KEYS: dict[str, list[str]] = {
    "files": ["raw", "files"],
    "refs": ["ingest", "references"],
    "enterprise": ["ingest", "enterprise"],
    "tax": ["ingest", "tax"],
    "employment": ["ingest", "employment"],
    "registry": ["ingest", "registry"],
    "dq": ["dq", "files"],
    "flags": ["dq", "flags"],
    "ind_town": ["ind", "town_year"],
    "ind_specialty": ["ind", "specialty_town_year"],
    "evaluation": ["eval", "specialty_town"],
    "gap": ["eval", "gap"],
    "targets": ["eval", "targets"],
    "pub": ["pub", "town_year"],
}

FACTS = ("enterprise", "tax", "employment", "registry")


def ins(*names: str, **renamed: str) -> dict[str, AssetIn]:
    """`ins("refs", "tax")` or `ins(ind="ind_town")`: parameter name -> the asset it reads."""
    out = {n: AssetIn(key=AssetKey(KEYS[n])) for n in names}
    out.update({param: AssetIn(key=AssetKey(KEYS[n])) for param, n in renamed.items()})
    return out
