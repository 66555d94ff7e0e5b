"""The copied country names match libphonenumber's, and naming a country loads no geocoder."""

import subprocess
import sys

from phonenumbers import geocoder
from phonenumbers.geodata.locale import LOCALE_DATA

from channels.countries import country_name
from channels.country_names import NAMES


def test_the_copy_names_every_country_as_the_installed_library_does() -> None:
    library = {code: geocoder._region_display_name(code, "en") for code in LOCALE_DATA}
    library = {code: name for code, name in library.items() if name}
    differ = [
        f'    "{c}": "{library.get(c)}",'
        for c in sorted(set(library) | set(NAMES))
        if library.get(c) != NAMES.get(c)
    ]
    assert not differ, "channels/country_names.py should read:\n" + "\n".join(differ)
    assert (country_name("IN"), country_name("GB"), country_name("ZZ")) == (
        "India",
        "United Kingdom",
        "ZZ",
    )


def test_naming_a_country_loads_no_geocoder_data() -> None:
    # A fresh interpreter: this one imported the geocoder above.
    probe = (
        "import sys; from channels.countries import country_name; "
        "assert country_name('FR') == 'France'; "
        "print(sorted(m for m in sys.modules if m.startswith('phonenumbers.geo')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
