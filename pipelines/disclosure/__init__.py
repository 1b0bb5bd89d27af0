"""Disclosure control of pub_town_year (contract section 7)."""

from pipelines.disclosure.params import DisclosureParams, load_disclosure_params
from pipelines.disclosure.suppression import publish_town_year

__all__ = ["DisclosureParams", "load_disclosure_params", "publish_town_year"]
