import unittest

from calc import add, divide, mean, multiply


class OpsTest(unittest.TestCase):
    def test_add(self) -> None:
        self.assertEqual(add(2, 3), 5)

    def test_multiply(self) -> None:
        self.assertEqual(multiply(4, 2.5), 10)

    def test_divide(self) -> None:
        self.assertEqual(divide(9, 3), 3)
        with self.assertRaises(ZeroDivisionError):
            divide(1, 0)

    def test_mean(self) -> None:
        self.assertEqual(mean([1, 2, 3, 4]), 2.5)
        with self.assertRaises(ValueError):
            mean([])


if __name__ == "__main__":
    unittest.main()
