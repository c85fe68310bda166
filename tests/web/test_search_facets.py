"""The search form's tag and author choices (issue 16: the search page at 10,000 guides).

``public_facets`` reads distinct values in SQL instead of loading every published guide; these
tests pin what it returns against the definition (every tag and author of a published guide,
nothing from drafts, archived guides or notes) so the faster query cannot change the choices.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb.models import Guide, split_list
from kb.runtime import Tandem
from kb.services import guides
from kb.views.listing import Facets, public_facets
from tests.web.conftest import Library, person


def facets_by_definition(session: Session) -> Facets:
    """What the form showed before: every published guide loaded, its tags and author."""
    published = session.scalars(
        select(Guide).where(Guide.status == "published").options(selectinload(Guide.author))
    ).all()
    tags = sorted({t for g in published for t in split_list(g.tags)}, key=str.casefold)
    authors = sorted({(str(g.author.id), g.author.name) for g in published},
                     key=lambda a: (a[1], int(a[0])))  # fmt: skip
    return Facets(tags=tags, authors=authors)


def test_facets_are_the_published_guides_tags_and_authors(
    web_tandem: Tandem, library: Library
) -> None:
    with web_tandem.sessions() as s:
        zofia = person(s, "zofia@example.com", "Zofia Writer", ("mentor",))
        twin = person(s, "twin@example.com", "Anna Mentor", ("mentor",))  # same name as Anna
        drafter = person(s, "drafter@example.com", "Only Drafts", ("mentor",))
        for n, tags in enumerate([[" Prompting ", "excel"], ["prompting", "Zeta;tag"], []]):
            g = guides.create_guide(s, zofia, title=f"Guide {n}", language="en", tags=tags,
                                    body_md=f"Body {n}.")  # fmt: skip
            guides.publish(s, g, zofia, web_tandem.embedders)
        g = guides.create_guide(s, twin, title="Twin", language="en", tags=["twin-tag"],
                                body_md="Twin body.")  # fmt: skip
        guides.publish(s, g, twin, web_tandem.embedders)
        guides.create_guide(s, drafter, title="Draft", language="en", tags=["draft-only-tag"],
                            body_md="Draft body.")  # fmt: skip
        archived = guides.create_guide(s, drafter, title="Old", language="en",
                                       tags=["archived-tag"], body_md="Old body.")  # fmt: skip
        guides.publish(s, archived, drafter, web_tandem.embedders)
        guides.archive(s, archived, drafter)
        s.commit()

        facets = public_facets(s)
        assert facets == facets_by_definition(s)
        assert {"ai", "excel", "prompting", "twin-tag"} <= set(facets.tags)
        assert not {"draft-only-tag", "archived-tag"} & set(facets.tags)
        names = [name for _, name in facets.authors]
        assert names.count("Anna Mentor") == 2  # two people, one name: both offered
        assert "Only Drafts" not in names and "Celina Mentor" not in names  # drafts only
        assert all(key.isdigit() for key, _ in facets.authors)  # ids, never e-mail addresses
