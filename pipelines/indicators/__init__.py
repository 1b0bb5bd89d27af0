"""Indicators (contract section 5): the catalogue, ind_town_year, ind_specialty_town_year."""

from pipelines.indicators.catalogue import CATALOGUE, SPECIALTY_TOWN_YEAR, TOWN_YEAR, money_columns
from pipelines.indicators.specialty import specialty_town_year
from pipelines.indicators.town import indicator_years, town_year

__all__ = [
    "CATALOGUE",
    "SPECIALTY_TOWN_YEAR",
    "TOWN_YEAR",
    "indicator_years",
    "money_columns",
    "specialty_town_year",
    "town_year",
]
