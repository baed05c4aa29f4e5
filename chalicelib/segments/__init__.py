"""Dynamic segments: definitions, incremental membership, time-relative refresh and full builds."""
