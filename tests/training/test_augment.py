"""Crop, flip and cutout: hand-checked on a 3×3 image, deterministic for a seed."""

import torch

from gradnas.training.augment import cutout, random_crop, random_flip

IMAGE = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1,2,3],[4,5,6],[7,8,9]]


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_crop_is_a_shift_into_the_zero_padded_image():
    # offsets (top, left) out of 0..2 in the 5×5 padded image; (1, 1) is the image itself
    expected = {
        (0, 0): [[0, 0, 0], [0, 1, 2], [0, 4, 5]],
        (1, 1): [[1, 2, 3], [4, 5, 6], [7, 8, 9]],
        (2, 2): [[5, 6, 0], [8, 9, 0], [0, 0, 0]],
        (0, 2): [[0, 0, 0], [2, 3, 0], [5, 6, 0]],
    }
    seen = set()
    for seed in range(40):
        top, left = torch.randint(0, 3, (1, 2), generator=generator(seed))[0].tolist()
        out = random_crop(IMAGE, 1, generator(seed))
        if (top, left) in expected:
            assert out[0, 0].tolist() == expected[(top, left)]
            seen.add((top, left))
    assert seen == set(expected)  # every hand-checked offset came up among the seeds


def test_crop_and_flip_are_deterministic_for_a_seed():
    batch = torch.randn(16, 3, 8, 8, generator=generator(0))
    for augment in (lambda x, g: random_crop(x, 4, g), random_flip):
        first, again = augment(batch, generator(7)), augment(batch, generator(7))
        assert torch.equal(first, again)
        assert not torch.equal(first, augment(batch, generator(8)))
    assert torch.equal(random_crop(batch, 0, generator(1)), batch)


def test_flip_mirrors_the_images_its_draw_selects():
    batch = torch.cat([IMAGE, IMAGE + 10])
    flips = (torch.rand(2, generator=generator(3)) < 0.5).tolist()
    out = random_flip(batch, generator(3))
    for i, flipped in enumerate(flips):
        rows = [[3, 2, 1], [6, 5, 4], [9, 8, 7]] if flipped else [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
        assert out[i, 0].tolist() == [[v + 10 * i for v in row] for row in rows]


def test_cutout_zeroes_a_square_around_the_drawn_centre_clipped_at_the_border():
    image = torch.ones(1, 2, 4, 4)
    for seed in range(10):
        g = generator(seed)
        row, col = (
            torch.randint(0, 4, (1,), generator=g).item(),
            torch.randint(0, 4, (1,), generator=g).item(),
        )
        out = cutout(image, 2, generator(seed))
        # size 2: rows row-1..row and cols col-1..col, clipped to the 4×4 image, in every channel
        for r in range(4):
            for c in range(4):
                inside = row - 1 <= r <= row and col - 1 <= c <= col
                assert out[0, :, r, c].tolist() == ([0.0, 0.0] if inside else [1.0, 1.0])
    assert torch.equal(cutout(image, 0, generator(0)), image)
