"""Which addresses a webhook may connect to: internal IPv4 refused in every IPv6 spelling."""
from __future__ import annotations

import ipaddress

import pytest

from chalicelib.channels.addresses import refusal, spells_address


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "255.255.255.255",
    "::1", "::", "fe80::1", "fd00:ec2::254", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",  # IPv4-mapped
    "::127.0.0.1", "::10.0.0.1",  # IPv4-compatible
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::c0a8:101",  # NAT64 of loopback, metadata, LAN
    "64:ff9b:1::5db8:d822",  # local-use NAT64
    "2002:7f00:1::", "2002:a9fe:a9fe::1", "2002:0a00:0001::",  # 6to4 of loopback, metadata, private
    "2001:0:4136:e378:8000:63bf:80ff:fffe", "2001::1",  # Teredo
])
def test_internal_addresses_are_refused_in_every_form(address):
    assert refusal(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [
    "93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4007:80a::200e",
    "64:ff9b::5db8:d822",  # NAT64 of a public address
    "2002:5db8:d822::1",  # 6to4 of a public address
])
def test_public_addresses_pass(address):
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("host", [
    "127.0.0.1.nip.io", "app.10.0.0.1.nip.io", "7f000001.nip.io", "10-0-0-1.sslip.io", "x.localtest.me",
    "lvh.me", "hooks.192-168-0-1.example.com", "169.254.169.254.example.com",
])
def test_names_that_spell_an_address_are_recognised(host):
    assert spells_address(host)


@pytest.mark.parametrize("host", ["hooks.example.com", "crm-2024.example.org", "api.v1.example.com",
                                  "127.example.com", "a1-b2-c3.example.net"])
def test_ordinary_names_pass(host):
    assert not spells_address(host)
