"""Value types and vocabularies: venous anatomy, actions, codes, the case format. No I/O."""
