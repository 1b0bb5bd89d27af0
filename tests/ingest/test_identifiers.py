import polars as pl

from pipelines.ingest.identifiers import (
    normalise_person_id,
    normalise_uscc,
    person_id_is_valid,
    uscc_is_valid,
)
from tests.ingest.rawfiles import PERSON_A, USCC_A


def _valid_uscc(values: list[str]) -> list[bool]:
    return pl.DataFrame({"c": values}).select(uscc_is_valid(normalise_uscc(pl.col("c"))))["c"].to_list()


def _valid_person(values: list[str]) -> list[bool]:
    return pl.DataFrame({"c": values}).select(person_id_is_valid(normalise_person_id(pl.col("c"))))["c"].to_list()


def test_published_uscc_example_and_its_check_by_hand():
    # The check character recomputed with the weights written out (3^(i-1) mod 31).
    charset = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    total = sum(charset.index(c) * w for c, w in zip(USCC_A[:17], weights, strict=True))
    assert charset[(31 - total % 31) % 31] == USCC_A[17]
    assert _valid_uscc([USCC_A, USCC_A[:17] + "4", " 9135 0100m000100y43 ", USCC_A[:16], "I" * 18, None]) == [
        True, False, True, False, False, False]


def test_person_id_mod11_2_by_hand():
    # 11010519491231002 weighted: 1*7+1*9+0*10+1*5+0*8+5*4+1*2+9*1+4*6+9*3+1*7+2*9+3*10+1*5+0*8+0*4+2*2
    # = 167; 167 mod 11 = 2; (12 - 2) mod 11 = 10 -> 'X'
    assert PERSON_A.endswith("X")
    assert _valid_person([PERSON_A, PERSON_A.lower(), "１１０１０５１９４９１２３１００２Ｘ", "110105 19491231 002x",
                          PERSON_A[:17] + "1", "110105491231002", None]) == [True, True, True, True, False, False, False]
