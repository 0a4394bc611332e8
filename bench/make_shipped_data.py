"""Write the small public data shipped inside the package (src/gradnas/data/shipped/).

    python3 bench/make_shipped_data.py /path/to/shared/data

Copies the NB201 accuracy table unchanged and keeps, from the two CIFAR files, only the exact-pixel
images and their labels, as compressed npz (uint8 pixels, int64 labels, no pickles). The file and
array names match the full data's, so the same loaders read either.
"""

import shutil
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "src" / "gradnas" / "data" / "shipped"


def main(full: Path) -> None:
    shutil.copyfile(full / "nb201_accuracy.csv.gz", OUT / "nb201_accuracy.csv.gz")
    with np.load(full / "cifar10_train_subset.npz", allow_pickle=False) as src:
        x = src["x_exact_prefix"]
        np.savez_compressed(OUT / "cifar10_train_subset.npz", x_exact_prefix=x, y=src["y"][: len(x)])
    with np.load(full / "cifar100_test_partial.npz", allow_pickle=False) as src:
        np.savez_compressed(OUT / "cifar100_test_partial.npz", x=src["x"], y=src["y"])
    for path in sorted(OUT.iterdir()):
        print(f"{path.name}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
