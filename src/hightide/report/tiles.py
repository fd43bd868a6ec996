"""A tile map of China's provinces as they stood in the 1950s: one square per province, placed roughly
where it lies (north at the top), so provincial small multiples read like a map.

Chongqing belonged to Sichuan and Hainan to Guangdong in 1954-1966, so neither has a tile. A
province the grid does not know is put in a row below the map rather than dropped.
"""

from __future__ import annotations

#: (row, column) of each province; row 0 is the north-east corner's row
TILES: dict[str, tuple[int, int]] = {
    "Heilongjiang": (0, 7),
    "Neimenggu": (1, 4), "Beijing": (1, 5), "Liaoning": (1, 6), "Jilin": (1, 7),
    "Xinjiang": (2, 0), "Ningxia": (2, 3), "Shanxi": (2, 4), "Hebei": (2, 5), "Tianjin": (2, 6),
    "Qinghai": (3, 1), "Gansu": (3, 2), "Shaanxi": (3, 3), "Henan": (3, 4), "Shandong": (3, 5),
    "Xizang": (4, 1), "Sichuan": (4, 2), "Hubei": (4, 3), "Anhui": (4, 4), "Jiangsu": (4, 5), "Shanghai": (4, 6),
    "Guizhou": (5, 2), "Hunan": (5, 3), "Jiangxi": (5, 4), "Zhejiang": (5, 5),
    "Yunnan": (6, 2), "Guangxi": (6, 3), "Guangdong": (6, 4), "Fujian": (6, 5),
}
N_COLUMNS = 1 + max(c for _, c in TILES.values())


def tile_positions(provinces: list[str]) -> dict[str, tuple[int, int]]:
    """(row, column) for each province, in map order (north to south, west to east); unknown names
    fill a row under the map."""
    known = sorted((p for p in provinces if p in TILES), key=lambda p: TILES[p])
    out = {p: TILES[p] for p in known}
    extra_row = 1 + max(r for r, _ in TILES.values())
    for i, p in enumerate(p for p in provinces if p not in TILES):
        out[p] = (extra_row + i // N_COLUMNS, i % N_COLUMNS)
    return out
