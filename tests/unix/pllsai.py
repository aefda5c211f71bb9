# PLLSAI settings for the DISCO's 9.6 MHz pixel clock from the VCO inputs the board may run with.
from display.disco import pllsai_settings

for vco_in in (1_000_000, 2_000_000, 25_000_000 // 24):
    n, r, divr, hz = pllsai_settings(vco_in)
    print(vco_in, "N", n, "R", r, "DIVR", (2, 4, 8, 16)[divr], "->", hz)
    assert 50 <= n <= 432 and 2 <= r <= 7 and 100_000_000 <= vco_in * n <= 432_000_000
