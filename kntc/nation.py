"""The national unit tree since the reform of 1 July 2025, generated deterministically.

The root is the Government Inspectorate (``VN``). Below it: the 34 provinces with their
real names and 2-digit codes, each with about twenty departments (``79.S01``) and its
communes (``79.26734``); and the 14 ministries and 2 ministerial-level agencies that
report to the Inspectorate directly (the third ministerial-level agency is the
Inspectorate itself, the root).

Province names and codes are the real ones, and so are the 13 special zones; the
commune counts per province follow the 2025 resolutions, reconciled with the national
totals of DOMAIN.md. Commune names are generated from common Vietnamese place-name
syllables (a few well-known real ones are pinned): the tree has the right shape and
sizes without pretending to be the official register.
``python -m kntc.nation > units.csv`` writes it for ``kntc units import``.
"""

from __future__ import annotations

import csv
import io
import random
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from models.unit_import import UnitRow

ROOT_CODE = "VN"
ROOT_NAME = "Thanh tra Chính phủ"
SEED = 20250701

# The national totals of the reform, as DOMAIN.md states them.
COMMUNES, XA, PHUONG, DAC_KHU = 3321, 2636, 672, 13

TreeRow = tuple[str, str, str | None, str]  # code, name, parent code, level


@dataclass(frozen=True)
class Province:
    code: str
    name: str  # without "tỉnh" / "thành phố"
    city: bool  # a centrally run city (thành phố trực thuộc trung ương)
    phuong: int
    xa: int
    dac_khu: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return f"UBND {self.kind} {self.name}"

    @property
    def kind(self) -> str:
        return "thành phố" if self.city else "tỉnh"


# Commune counts per province from the 2025 resolutions. They add up to 687 phường and
# 2,621 xã, while DOMAIN.md gives 672 and 2,636; _match_national_totals reconciles them.
PROVINCES = (
    Province("01", "Hà Nội", True, 51, 75),
    Province("04", "Cao Bằng", False, 3, 53),
    Province("08", "Tuyên Quang", False, 7, 117),
    Province("11", "Điện Biên", False, 3, 42),
    Province("12", "Lai Châu", False, 2, 36),
    Province("14", "Sơn La", False, 8, 67),
    Province("15", "Lào Cai", False, 10, 89),
    Province("19", "Thái Nguyên", False, 15, 77),
    Province("20", "Lạng Sơn", False, 4, 61),
    Province("22", "Quảng Ninh", False, 30, 22, ("Vân Đồn", "Cô Tô")),
    Province("24", "Bắc Ninh", False, 33, 66),
    Province("25", "Phú Thọ", False, 15, 133),
    Province("31", "Hải Phòng", True, 45, 67, ("Cát Hải", "Bạch Long Vĩ")),
    Province("33", "Hưng Yên", False, 11, 93),
    Province("37", "Ninh Bình", False, 32, 97),
    Province("38", "Thanh Hóa", False, 19, 147),
    Province("40", "Nghệ An", False, 11, 119),
    Province("42", "Hà Tĩnh", False, 9, 60),
    Province("44", "Quảng Trị", False, 8, 69, ("Cồn Cỏ",)),
    Province("46", "Huế", True, 21, 19),
    Province("48", "Đà Nẵng", True, 23, 70, ("Hoàng Sa",)),
    Province("51", "Quảng Ngãi", False, 9, 86, ("Lý Sơn",)),
    Province("52", "Gia Lai", False, 25, 110),
    Province("56", "Khánh Hòa", False, 16, 48, ("Trường Sa",)),
    Province("66", "Đắk Lắk", False, 14, 88),
    Province("68", "Lâm Đồng", False, 20, 103, ("Phú Quý",)),
    Province("75", "Đồng Nai", False, 23, 72),
    Province("79", "Hồ Chí Minh", True, 113, 54, ("Côn Đảo",)),
    Province("80", "Tây Ninh", False, 14, 82),
    Province("82", "Đồng Tháp", False, 20, 82),
    Province("86", "Vĩnh Long", False, 19, 105),
    Province("91", "An Giang", False, 14, 85, ("Phú Quốc", "Kiên Hải", "Thổ Châu")),
    Province("92", "Cần Thơ", True, 31, 72),
    Province("96", "Cà Mau", False, 9, 55),
)

MINISTRIES = (
    "Bộ Quốc phòng",
    "Bộ Công an",
    "Bộ Ngoại giao",
    "Bộ Nội vụ",
    "Bộ Tư pháp",
    "Bộ Tài chính",
    "Bộ Công Thương",
    "Bộ Nông nghiệp và Môi trường",
    "Bộ Xây dựng",
    "Bộ Văn hóa, Thể thao và Du lịch",
    "Bộ Khoa học và Công nghệ",
    "Bộ Giáo dục và Đào tạo",
    "Bộ Y tế",
    "Bộ Dân tộc và Tôn giáo",
    "Ngân hàng Nhà nước Việt Nam",
    "Văn phòng Chính phủ",
)

# Every province has these, named after it ("Sở Tài chính tỉnh Tây Ninh").
DEPARTMENTS = (
    "Thanh tra",
    "Ban Tiếp công dân",
    "Văn phòng UBND",
    "Văn phòng Đoàn ĐBQH và HĐND",
    "Sở Nội vụ",
    "Sở Tài chính",
    "Sở Tư pháp",
    "Sở Công Thương",
    "Sở Nông nghiệp và Môi trường",
    "Sở Xây dựng",
    "Sở Khoa học và Công nghệ",
    "Sở Giáo dục và Đào tạo",
    "Sở Y tế",
    "Sở Văn hóa, Thể thao và Du lịch",
    "Ban Quản lý các khu công nghiệp",
    "Ban Quản lý dự án đầu tư xây dựng",
)
# Some provinces have some of these as well.
OPTIONAL_DEPARTMENTS = (
    "Sở Ngoại vụ",
    "Sở Dân tộc và Tôn giáo",
    "Sở Du lịch",
    "Ban Quản lý Khu kinh tế",
    "Ban Quản lý dự án đầu tư xây dựng công trình giao thông",
    "Ban Quản lý dự án đầu tư xây dựng công trình nông nghiệp",
)

# A few real communes per province, listed first so that they get the first codes.
PINNED = {
    "01": ("Phường Hoàn Kiếm", "Phường Ba Đình", "Phường Cửa Nam", "Phường Hồng Hà", "Phường Tây Hồ"),
    "31": ("Phường Hồng Bàng", "Phường Lê Chân", "Phường Ngô Quyền"),
    "22": ("Phường Hạ Long", "Phường Móng Cái 1"),
    "46": ("Phường Thuận Hóa", "Phường Phú Xuân"),
    "48": ("Phường Hải Châu", "Phường Hòa Cường", "Phường Sơn Trà"),
    "56": ("Phường Nha Trang", "Phường Cam Ranh"),
    "79": ("Phường Bến Thành", "Phường Sài Gòn", "Phường Tân Định", "Phường Cầu Ông Lãnh"),
    "92": ("Phường Ninh Kiều", "Phường Cái Khế"),
}
# The contract's example commune code is 79.26734; elsewhere codes start near code x 335,
# which is about where the real 5-digit commune codes of each province lie.
FIRST_COMMUNE_NUMBER = {"79": 26734}

FIRST_SYLLABLES = (
    "An", "Bình", "Hòa", "Phú", "Tân", "Long", "Mỹ", "Thạnh", "Vĩnh", "Phước", "Đông", "Tây",
    "Nam", "Bắc", "Hưng", "Xuân", "Thuận", "Quang", "Minh", "Đức", "Trung", "Hải", "Sơn",
    "Thanh", "Hồng", "Kim", "Ngọc", "Cẩm", "Gia", "Hiệp", "Lộc", "Thái", "Yên", "Đại", "Cát",
    "Tiên", "Lạc", "Nghĩa", "Hương", "Quảng", "Tam", "Nhơn", "Phong", "Định", "Khánh", "Tường",
    "Thiện", "Vạn", "Hoài", "Tịnh", "Chiêm", "Đồng", "Kiến", "Lương", "Phúc", "Trường", "Cao",
)  # fmt: skip
SECOND_SYLLABLES = (
    "Hội", "Lợi", "Thành", "Phát", "Thịnh", "Hòa", "An", "Lộc", "Phú", "Điền", "Sơn", "Giang",
    "Hà", "Lâm", "Châu", "Trạch", "Xuân", "Tiến", "Thắng", "Lập", "Hưng", "Nguyên", "Mỹ", "Tân",
    "Trung", "Đông", "Tây", "Hải", "Linh", "Khê", "Ninh", "Bình", "Thuận", "Phong", "Quới",
    "Hiệp", "Định", "Long", "Thới", "Hậu", "Vinh", "Yên", "Dương", "Kiều", "Thủy", "Cường",
)  # fmt: skip


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _match_national_totals(provinces: tuple[Province, ...]) -> tuple[Province, ...]:
    """Re-label phường as xã, one per province with the most phường, until the totals match."""
    surplus = sum(p.phuong for p in provinces) - PHUONG
    counts = {p.code: [p.phuong, p.xa] for p in provinces}
    for province in sorted(provinces, key=lambda p: (-p.phuong, p.code))[: max(surplus, 0)]:
        counts[province.code][0] -= 1
        counts[province.code][1] += 1
    adjusted = tuple(
        Province(p.code, p.name, p.city, counts[p.code][0], counts[p.code][1], p.dac_khu) for p in provinces
    )
    assert sum(p.phuong for p in adjusted) == PHUONG and sum(p.xa for p in adjusted) == XA
    assert sum(len(p.dac_khu) for p in adjusted) == DAC_KHU
    assert sum(p.phuong + p.xa + len(p.dac_khu) for p in adjusted) == COMMUNES
    return adjusted


def _commune_names(province: Province, rng: random.Random) -> Iterator[str]:
    """Phường first, then xã, then đặc khu; unique within the province."""
    pinned = PINNED.get(province.code, ())
    used = set(pinned)
    pinned_phuong = [name for name in pinned if name.startswith("Phường")]
    yield from pinned_phuong
    for prefix, count in (("Phường", province.phuong - len(pinned_phuong)), ("Xã", province.xa)):
        for _ in range(count):
            name = _fresh_name(prefix, used, rng)
            used.add(name)
            yield name
    for name in province.dac_khu:
        yield f"Đặc khu {name}"


def _fresh_name(prefix: str, used: set[str], rng: random.Random) -> str:
    while True:
        first, second = rng.choice(FIRST_SYLLABLES), rng.choice(SECOND_SYLLABLES)
        name = f"{prefix} {first} {second}"
        if first != second and name not in used:
            return name


def _departments(province: Province, rng: random.Random) -> list[str]:
    extra = rng.sample(OPTIONAL_DEPARTMENTS, k=rng.randint(2, 5))
    return [f"{name} {province.kind} {province.name}" for name in (*DEPARTMENTS, *extra)]


def _province_rows(province: Province, rng: random.Random) -> Iterator[TreeRow]:
    yield province.code, province.title, ROOT_CODE, "province"
    for n, name in enumerate(_departments(province, rng), start=1):
        yield f"{province.code}.S{n:02d}", name, province.code, "department"
    number = FIRST_COMMUNE_NUMBER.get(province.code, int(province.code) * 335)
    for name in _commune_names(province, rng):
        yield f"{province.code}.{number:05d}", name, province.code, "commune"
        number += rng.randint(1, 2)


def national_tree(seed: int = SEED) -> list[TreeRow]:
    """``(code, name, parent_code, level)`` for every unit, parents before children."""
    rng = random.Random(seed)
    rows: list[TreeRow] = [(ROOT_CODE, ROOT_NAME, None, "central")]
    rows += [(f"B{n:02d}", name, ROOT_CODE, "ministry") for n, name in enumerate(MINISTRIES, start=1)]
    for province in _match_national_totals(PROVINCES):
        rows += _province_rows(province, rng)
    return [(code, nfc(name), parent, level) for code, name, parent, level in rows]


def national_rows(seed: int = SEED, communes: int | None = None) -> list[UnitRow]:
    """The tree as rows for :func:`models.unit_import.import_units`.

    ``communes`` keeps only that many communes, spread evenly over the provinces (a
    quicker demo); every province, department and ministry stays.
    """
    tree = national_tree(seed)
    if communes is not None:
        tree = _fewer_communes(tree, communes)
    return [
        UnitRow(line=n, code=code, name=name, parent_code=parent, level=level, opened_on=None, closed_on=None)
        for n, (code, name, parent, level) in enumerate(tree, start=2)
    ]


def _fewer_communes(tree: list[TreeRow], keep: int) -> list[TreeRow]:
    commune_rows = [i for i, row in enumerate(tree) if row[3] == "commune"]
    keep = max(0, min(keep, len(commune_rows)))
    step = len(commune_rows) / keep if keep else 0
    kept = {commune_rows[int(i * step)] for i in range(keep)}
    return [row for i, row in enumerate(tree) if row[3] != "commune" or i in kept]


def to_csv(tree: list[TreeRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("code", "name", "parent_code", "level"))
    writer.writerows((code, name, parent or "", level) for code, name, parent, level in tree)
    return out.getvalue()


if __name__ == "__main__":
    sys.stdout.write(to_csv(national_tree()))
