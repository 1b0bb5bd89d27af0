"""An independent second computation of ind_town_year and ind_specialty_town_year.

Plain SQL run by DuckDB over the same fact frames, written from contract section 5 (not from
the Polars code): correlated sub-queries, dates compared as dates. Used only by tests.

Reading of the contract shared with the pipeline: yoy compares with the indicator's value
computed from the facts of Y-1 (a sum over no rows being 0, so yoy is then null).
"""

from __future__ import annotations

import duckdb
import polars as pl

_COMMON = """
years AS (SELECT DISTINCT CAST(year AS INTEGER) AS year FROM enterprise),
span AS (SELECT year FROM years UNION SELECT year - 1 FROM years),
-- the town of a taxpayer/employer in Y: its report town of Y, else its register town
tax_t AS (
  SELECT t.*, COALESCE(
      (SELECT e.town_code FROM enterprise e WHERE e.year = t.year AND e.uscc = t.uscc),
      (SELECT r.town_code FROM registry r WHERE r.uscc = t.uscc)) AS unit_town
  FROM tax t),
emp_t AS (
  SELECT m.*, COALESCE(
      (SELECT e.town_code FROM enterprise e WHERE e.year = m.year AND e.uscc = m.employer_uscc),
      (SELECT r.town_code FROM registry r WHERE r.uscc = m.employer_uscc)) AS unit_town
  FROM employment m)
"""

TOWN_SQL = f"""
WITH {_COMMON},
cand AS (
  SELECT town_code, year FROM enterprise
  UNION SELECT unit_town, year FROM tax_t WHERE unit_town IS NOT NULL
  UNION SELECT unit_town, year FROM emp_t WHERE unit_town IS NOT NULL
  UNION SELECT r.town_code, s.year FROM registry r, span s
        WHERE r.established <= make_date(s.year, 12, 31)
          AND (r.deregistered IS NULL OR r.deregistered > make_date(s.year, 12, 31))
  UNION SELECT town_code, year(established) FROM registry
),
present AS (
  SELECT c.* FROM cand c WHERE c.year IN (SELECT year FROM years) AND (
       EXISTS (SELECT 1 FROM enterprise e WHERE e.town_code = c.town_code AND e.year = c.year)
    OR EXISTS (SELECT 1 FROM tax_t t WHERE t.unit_town = c.town_code AND t.year = c.year)
    OR EXISTS (SELECT 1 FROM emp_t m WHERE m.unit_town = c.town_code AND m.year = c.year)
    OR EXISTS (SELECT 1 FROM registry r WHERE r.town_code = c.town_code
               AND r.established <= make_date(c.year, 12, 31)
               AND (r.deregistered IS NULL OR r.deregistered > make_date(c.year, 12, 31))))
),
val AS (
  SELECT c.town_code, c.year,
    (SELECT count(*) FROM enterprise e WHERE e.town_code = c.town_code AND e.year = c.year) AS enterprises,
    (SELECT count(*) FROM enterprise e WHERE e.town_code = c.town_code AND e.year = c.year AND e.above_scale) AS above_scale_enterprises,
    (SELECT count(*) FROM enterprise e WHERE e.town_code = c.town_code AND e.year = c.year AND e.above_scale
       AND NOT EXISTS (SELECT 1 FROM enterprise p WHERE p.uscc = e.uscc AND p.year = e.year - 1 AND p.above_scale)) AS newly_above_scale,
    (SELECT round(coalesce(sum(output_value), 0), 2) FROM enterprise e WHERE e.town_code = c.town_code AND e.year = c.year) AS output_value,
    (SELECT round(coalesce(sum(revenue), 0), 2) FROM enterprise e WHERE e.town_code = c.town_code AND e.year = c.year) AS revenue,
    (SELECT coalesce(sum(employees), 0) FROM enterprise e WHERE e.town_code = c.town_code AND e.year = c.year) AS employees,
    (SELECT round(coalesce(sum(rd_expenditure), 0), 2) FROM enterprise e WHERE e.town_code = c.town_code AND e.year = c.year) AS rd_expenditure,
    (SELECT round(coalesce(sum(export_value), 0), 2) FROM enterprise e WHERE e.town_code = c.town_code AND e.year = c.year) AS export_value,
    (SELECT round(coalesce(sum(ecommerce_sales), 0), 2) FROM enterprise e WHERE e.town_code = c.town_code AND e.year = c.year) AS ecommerce_sales,
    (SELECT coalesce(sum(patents_granted), 0) FROM enterprise e WHERE e.town_code = c.town_code AND e.year = c.year) AS patents_granted,
    (SELECT count(*) FROM enterprise e WHERE e.town_code = c.town_code AND e.year = c.year AND e.high_tech) AS high_tech_enterprises,
    (SELECT count(*) FROM enterprise e WHERE e.town_code = c.town_code AND e.year = c.year AND e.specialized_sme) AS specialized_sme_enterprises,
    (SELECT count(*) FROM enterprise e WHERE e.town_code = c.town_code AND e.year = c.year AND e.little_giant) AS little_giant_enterprises,
    (SELECT count(*) FROM enterprise e WHERE e.town_code = c.town_code AND e.year = c.year AND e.tech_center_level <> 'none') AS tech_center_enterprises,
    (SELECT round(coalesce(sum(total_tax), 0), 2) FROM tax_t t WHERE t.unit_town = c.town_code AND t.year = c.year) AS tax_total,
    (SELECT count(DISTINCT person_key) FROM emp_t m WHERE m.unit_town = c.town_code AND m.period = printf('%04d-12', c.year)) AS insured_persons,
    (SELECT count(DISTINCT person_key) FROM emp_t m WHERE m.unit_town = c.town_code AND m.period = printf('%04d-12', c.year)
        AND m.hukou_county_code = substr(c.town_code, 1, 6)) AS local_insured_persons,
    (SELECT count(*) FROM registry r WHERE r.town_code = c.town_code AND r.established <= make_date(c.year, 12, 31)
        AND (r.deregistered IS NULL OR r.deregistered > make_date(c.year, 12, 31))) AS market_entities,
    (SELECT count(*) FROM registry r WHERE r.town_code = c.town_code AND year(r.established) = c.year) AS new_market_entities
  FROM (SELECT DISTINCT town_code, year FROM cand WHERE year IN (SELECT year FROM span)) c
)
SELECT v.town_code, CAST(v.year AS INTEGER) AS year, substr(v.town_code, 1, 6) AS county_code,
  v.enterprises, v.above_scale_enterprises, v.newly_above_scale,
  v.output_value,
  CASE WHEN p.output_value IS NULL OR p.output_value <= 0 THEN NULL ELSE v.output_value / p.output_value - 1 END AS output_value_yoy,
  v.revenue,
  CASE WHEN p.revenue IS NULL OR p.revenue <= 0 THEN NULL ELSE v.revenue / p.revenue - 1 END AS revenue_yoy,
  v.employees, v.rd_expenditure,
  CASE WHEN v.revenue = 0 THEN NULL ELSE v.rd_expenditure / v.revenue END AS rd_intensity,
  v.export_value, v.ecommerce_sales, v.patents_granted, v.high_tech_enterprises,
  v.specialized_sme_enterprises, v.little_giant_enterprises, v.tech_center_enterprises,
  v.tax_total,
  CASE WHEN p.tax_total IS NULL OR p.tax_total <= 0 THEN NULL ELSE v.tax_total / p.tax_total - 1 END AS tax_total_yoy,
  v.insured_persons, v.local_insured_persons, v.market_entities, v.new_market_entities,
  CASE WHEN p.market_entities IS NULL OR p.market_entities <= 0 THEN NULL
       ELSE v.market_entities / p.market_entities - 1 END AS market_entities_yoy
FROM val v JOIN present USING (town_code, year)
LEFT JOIN val p ON p.town_code = v.town_code AND p.year = v.year - 1
ORDER BY v.town_code, v.year
"""

SPECIALTY_SQL = f"""
WITH {_COMMON},
codes AS (
  SELECT id, code, bool_or(is_core) AS is_core FROM (
    SELECT id, trim(code) AS code, true AS is_core
      FROM specialty_towns, unnest(string_split(coalesce(core_industry_codes, ''), ';')) AS u(code)
    UNION ALL
    SELECT id, trim(code), false
      FROM specialty_towns, unnest(string_split(coalesce(supporting_industry_codes, ''), ';')) AS u(code))
  WHERE code <> '' GROUP BY id, code),
hosts AS (
  SELECT id, trim(h) AS town FROM specialty_towns, unnest(string_split(coalesce(host_town_codes, ''), ';')) AS u(h)
  WHERE trim(h) <> ''),
members AS (
  SELECT s.id, s.county_code AS s_county, e.*, c.is_core,
    EXISTS (SELECT 1 FROM leaders l WHERE l.specialty_town_id = s.id AND l.uscc = e.uscc
            AND l.from_year <= e.year AND (l.to_year IS NULL OR e.year <= l.to_year)) AS is_leading
  FROM specialty_towns s
  JOIN enterprise e ON CASE WHEN EXISTS (SELECT 1 FROM hosts h WHERE h.id = s.id)
                            THEN EXISTS (SELECT 1 FROM hosts h WHERE h.id = s.id AND h.town = e.town_code)
                            ELSE substr(e.town_code, 1, 6) = s.county_code END
  JOIN codes c ON c.id = s.id AND c.code = e.industry_code),
agg AS (
  SELECT id, year, count(*) AS member_enterprises, count(*) FILTER (WHERE is_leading) AS leading_enterprises,
    round(coalesce(sum(output_value), 0), 2) AS output_value,
    round(coalesce(sum(output_value) FILTER (WHERE is_core), 0), 2) AS core_output_value,
    coalesce(sum(employees), 0) AS employees,
    count(*) FILTER (WHERE above_scale) AS above_scale_enterprises,
    count(*) FILTER (WHERE above_scale AND NOT EXISTS (
        SELECT 1 FROM enterprise p WHERE p.uscc = members.uscc AND p.year = members.year - 1 AND p.above_scale)) AS newly_above_scale,
    round(coalesce(sum(rd_expenditure), 0), 2) AS rd_expenditure,
    round(coalesce(sum(revenue), 0), 2) AS revenue,
    count(*) FILTER (WHERE high_tech) AS high_tech_enterprises,
    count(*) FILTER (WHERE specialized_sme) AS specialized_sme_enterprises,
    round(coalesce(sum(ecommerce_sales), 0), 2) AS ecommerce_sales,
    round(coalesce(sum(export_value), 0), 2) AS export_value
  FROM members GROUP BY id, year),
grid AS (SELECT s.id, s.county_code, y.year FROM specialty_towns s, span y),
val AS (
  SELECT g.id, g.year, g.county_code,
    coalesce(a.member_enterprises, 0) AS member_enterprises, coalesce(a.leading_enterprises, 0) AS leading_enterprises,
    coalesce(a.output_value, 0) AS output_value, coalesce(a.core_output_value, 0) AS core_output_value,
    coalesce(a.employees, 0) AS employees,
    (SELECT count(DISTINCT m.person_key) FROM employment m JOIN members b ON b.uscc = m.employer_uscc
       WHERE b.id = g.id AND b.year = g.year AND m.period = printf('%04d-12', g.year)) AS insured_persons,
    (SELECT count(DISTINCT m.person_key) FROM employment m JOIN members b ON b.uscc = m.employer_uscc
       WHERE b.id = g.id AND b.year = g.year AND m.period = printf('%04d-12', g.year)
         AND m.hukou_county_code = g.county_code) AS local_insured_persons,
    (SELECT round(coalesce(sum(t.total_tax), 0), 2) FROM tax t JOIN members b ON b.uscc = t.uscc
       WHERE b.id = g.id AND b.year = g.year AND t.year = g.year) AS tax_total,
    coalesce(a.above_scale_enterprises, 0) AS above_scale_enterprises,
    coalesce(a.newly_above_scale, 0) AS newly_above_scale,
    coalesce(a.rd_expenditure, 0) AS rd_expenditure, coalesce(a.revenue, 0) AS revenue,
    coalesce(a.high_tech_enterprises, 0) AS high_tech_enterprises,
    coalesce(a.specialized_sme_enterprises, 0) AS specialized_sme_enterprises,
    coalesce(a.ecommerce_sales, 0) AS ecommerce_sales, coalesce(a.export_value, 0) AS export_value,
    (SELECT count(*) FROM registry r JOIN codes c ON c.id = g.id AND c.code = r.industry_code
       WHERE (CASE WHEN EXISTS (SELECT 1 FROM hosts h WHERE h.id = g.id)
                   THEN EXISTS (SELECT 1 FROM hosts h WHERE h.id = g.id AND h.town = r.town_code)
                   ELSE substr(r.town_code, 1, 6) = g.county_code END)
         AND r.established <= make_date(g.year, 12, 31)
         AND (r.deregistered IS NULL OR r.deregistered > make_date(g.year, 12, 31))) AS market_entities
  FROM grid g LEFT JOIN agg a ON a.id = g.id AND a.year = g.year)
SELECT v.id AS specialty_town_id, CAST(v.year AS INTEGER) AS year,
  v.member_enterprises, v.leading_enterprises, v.member_enterprises - v.leading_enterprises AS supporting_enterprises,
  v.output_value,
  CASE WHEN p.output_value IS NULL OR p.output_value <= 0 THEN NULL ELSE v.output_value / p.output_value - 1 END AS output_value_yoy,
  v.core_output_value,
  CASE WHEN mt.provincial_output IS NULL OR mt.provincial_output = 0 THEN NULL
       ELSE v.core_output_value / mt.provincial_output END AS market_share,
  v.employees, v.insured_persons, v.local_insured_persons, v.tax_total,
  v.above_scale_enterprises, v.newly_above_scale,
  CASE WHEN v.revenue = 0 THEN NULL ELSE v.rd_expenditure / v.revenue END AS rd_intensity,
  v.high_tech_enterprises, v.specialized_sme_enterprises, v.ecommerce_sales, v.export_value,
  v.market_entities,
  CASE WHEN p.market_entities IS NULL OR p.market_entities <= 0 THEN NULL
       ELSE v.market_entities / p.market_entities - 1 END AS market_entities_yoy,
  mt.provincial_output
FROM val v LEFT JOIN val p ON p.id = v.id AND p.year = v.year - 1
LEFT JOIN market_totals mt ON mt.specialty_town_id = v.id AND mt.year = v.year
WHERE v.year IN (SELECT year FROM years)
ORDER BY v.id, v.year
"""


def _run(sql: str, frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    con = duckdb.connect()
    try:
        for name, frame in frames.items():
            con.register(name, frame.to_arrow())
        return pl.from_arrow(con.sql(sql).to_arrow_table())
    finally:
        con.close()


def reference_town_year(enterprise, tax, employment, registry, towns=None) -> pl.DataFrame:
    """ind_town_year by SQL."""
    return _run(TOWN_SQL, {"enterprise": enterprise, "tax": tax, "employment": employment, "registry": registry})


def reference_specialty_town_year(
    enterprise, tax, employment, registry, towns, specialty_towns, leading, market_totals
) -> pl.DataFrame:
    """ind_specialty_town_year by SQL."""
    return _run(SPECIALTY_SQL, {
        "enterprise": enterprise, "tax": tax, "employment": employment, "registry": registry,
        "specialty_towns": specialty_towns, "leaders": leading, "market_totals": market_totals,
    })
