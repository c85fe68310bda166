"""The xlang-pl guides and questions, as written (see README.md); build.py writes the BEIR files.

Each guide was written twice by hand, once in Polish and once in English (not translated
sentence by sentence: each version says the same things the way a colleague would say them in
that language). ``kept`` is the version the mixed library holds; every question is asked in
another language than the kept version (English or Russian for a Polish guide, Polish or
Russian for an English one).
"""

from __future__ import annotations

GUIDES: list[dict] = [
    {
        "id": "g01",
        "kept": "pl",
        "tags": ["ai", "outlook"],
        "pl": (
            "Copilot w Outlooku: jak ogarnąć długie wątki",
            "Po urlopie czeka na Ciebie 40 odpowiedzi w jednym wątku? Otwórz wątek i kliknij "
            "„Podsumuj” na górze wiadomości. Copilot wypisze, kto o co prosi i co zostało "
            "ustalone. Nie traktuj tego jak protokołu: sprawdź daty i kwoty w oryginalnych "
            "mailach, bo streszczenie potrafi pominąć poprawkę wysłaną na końcu. Przy "
            "odpowiedzi możesz poprosić o szkic w tonie „uprzejmie, ale stanowczo” i od razu "
            "go skrócić. Dobry nawyk: zanim wyślesz szkic, przeczytaj go na głos.",
        ),
        "en": (
            "Copilot in Outlook: getting through long threads",
            "Back from holiday with 40 replies in one thread? Open it and click Summarise at "
            "the top of the message. Copilot lists who is asking for what and what has been "
            "agreed. Don't treat it as minutes: check dates and amounts in the original "
            "emails, because a summary can miss a correction sent at the very end. When you "
            "reply, you can ask for a draft that is polite but firm, then shorten it. A good "
            "habit: read the draft out loud before you send it.",
        ),
        "questions": [
            ("en", "How do I quickly catch up on a huge email thread after my vacation?"),
            ("ru", "Можно ли доверять краткому пересказу переписки, который делает Copilot?"),
            ("en", "Can Copilot draft a firm but polite reply in Outlook?"),
        ],
    },
    {
        "id": "g02",
        "kept": "pl",
        "tags": ["ai", "security"],
        "pl": (
            "Czego nie wklejać do ChatGPT",
            "Zasada jest prosta: do publicznego czatbota nie trafiają dane klientów, umowy, "
            "wyniki finansowe przed publikacją ani hasła. Wszystko, co wkleisz, może zostać "
            "zapisane poza firmą. Jeśli chcesz poprawić styl maila do klienta, zamień nazwiska "
            "i kwoty na „[KLIENT]” i „[KWOTA]”. Do pracy na dokumentach wewnętrznych używaj "
            "firmowej wersji narzędzia, w której dane nie służą do trenowania modelu. Masz "
            "wątpliwość? Zapytaj dział bezpieczeństwa, zanim wkleisz, a nie po fakcie.",
        ),
        "en": (
            "What not to paste into ChatGPT",
            "The rule is simple: customer data, contracts, unpublished financial results and "
            "passwords never go into a public chatbot. Anything you paste may be stored "
            "outside the company. If you want to polish an email to a client, replace names "
            "and amounts with [CLIENT] and [AMOUNT]. For internal documents use the company "
            "edition of the tool, where your data is not used to train the model. Not sure? "
            "Ask the security team before you paste, not afterwards.",
        ),
        "questions": [
            ("en", "Is it safe to paste a customer contract into a public chatbot?"),
            ("ru", "Какие данные нельзя вставлять в ChatGPT?"),
            ("en", "How can I anonymise client names before asking an AI to improve my email?"),
        ],
    },
    {
        "id": "g03",
        "kept": "pl",
        "tags": ["social media", "linkedin"],
        "pl": (
            "LinkedIn dla menedżera: pierwszy post bez wstydu",
            "Nie musisz pisać poradnika. Najlepiej działa krótka historia z pracy: problem, "
            "co zrobiliście, czego się nauczyliście. Trzy do pięciu akapitów, jedno zdjęcie "
            "zespołu (za zgodą), bez hashtagów w środku zdania. Oznacz osoby, które pomogły, "
            "ale nie więcej niż trzy. Publikuj we wtorek albo w środę rano, a przez pierwszą "
            "godzinę odpowiadaj na komentarze. Raz w tygodniu wystarczy, żeby sieć zaczęła "
            "Cię kojarzyć z tematem.",
        ),
        "en": (
            "LinkedIn for managers: a first post without the cringe",
            "You don't need to write a how-to. A short story from work does best: the "
            "problem, what you did, what you learned. Three to five paragraphs, one team photo "
            "(with consent), no hashtags in the middle of sentences. Tag the people who "
            "helped, but no more than three. Post on Tuesday or Wednesday morning and answer "
            "comments during the first hour. Once a week is enough for your network to link "
            "you with the topic.",
        ),
        "questions": [
            ("en", "What should a senior manager write in their first LinkedIn post?"),
            ("ru", "Когда лучше публиковать пост в LinkedIn и как часто?"),
        ],
    },
    {
        "id": "g04",
        "kept": "pl",
        "tags": ["hybrid work"],
        "pl": (
            "Praca hybrydowa: umowa zespołu",
            "Hybryda psuje się wtedy, gdy każdy przychodzi do biura w inny dzień. Ustalcie "
            "wspólnie dwa stałe dni obecności i zapiszcie je w umowie zespołu razem z godzinami, "
            "w których wszyscy są dostępni. Spotkania w biurze wykorzystujcie na warsztaty i "
            "rozmowy jeden na jeden, a nie na wideokonferencje przy biurkach. Jeśli choć jedna "
            "osoba jest zdalnie, wszyscy łączą się ze swoich laptopów, żeby nikt nie był "
            "gościem drugiej kategorii. Umowę przeglądajcie co kwartał.",
        ),
        "en": (
            "Hybrid work: a team agreement",
            "Hybrid breaks down when everyone comes to the office on a different day. Agree on "
            "two fixed office days together and write them into a team agreement, along with "
            "the core hours when everyone is reachable. Use office days for workshops and "
            "one-to-ones, not for video calls at your desk. If even one person is remote, "
            "everyone joins from their own laptop, so nobody is a second-class guest. Review "
            "the agreement every quarter.",
        ),
        "questions": [
            ("en", "How do we pick which days the team should be in the office?"),
            ("ru", "Как проводить встречи, если часть команды работает из дома?"),
            ("en", "What belongs in a hybrid team agreement?"),
        ],
    },
    {
        "id": "g05",
        "kept": "pl",
        "tags": ["esg"],
        "pl": (
            "ESG: zakres 1, 2 i 3 w pięć minut",
            "Ślad węglowy firmy dzieli się na trzy zakresy. Zakres 1 to emisje z tego, co "
            "spalacie sami: paliwo we flocie, gaz w kotłowni. Zakres 2 to kupiona energia "
            "elektryczna i ciepło. Zakres 3 to cała reszta łańcucha wartości: transport u "
            "przewoźników, podróże służbowe, produkty kupowane i sprzedawane. U firm "
            "logistycznych zakres 3 bywa wielokrotnie większy niż 1 i 2 razem. Zacznij od "
            "danych, które już masz: faktur za paliwo i energię.",
        ),
        "en": (
            "ESG: scopes 1, 2 and 3 in five minutes",
            "A company's carbon footprint is split into three scopes. Scope 1 covers what you "
            "burn yourselves: fuel in the fleet, gas in the boiler room. Scope 2 is purchased "
            "electricity and heat. Scope 3 is the rest of the value chain: transport by "
            "carriers, business travel, products bought and sold. For logistics firms scope 3 "
            "is often several times bigger than 1 and 2 together. Start with data you already "
            "have: fuel and energy invoices.",
        ),
        "questions": [
            ("en", "What is the difference between scope 2 and scope 3 emissions?"),
            ("ru", "Что относится к выбросам первой области охвата?"),
            ("en", "Where should a company start when calculating its carbon footprint?"),
        ],
    },
    {
        "id": "g06",
        "kept": "pl",
        "tags": ["well-being"],
        "pl": (
            "Higiena cyfrowa: powiadomienia pod kontrolą",
            "Każde powiadomienie kosztuje kilka minut powrotu do pracy. Wyłącz dźwięki i "
            "banery dla poczty, zostaw je tylko dla wiadomości od bezpośrednich współpracowników. "
            "Zaplanuj w kalendarzu dwa bloki skupienia po 90 minut i ustaw w Teams status "
            "„Nie przeszkadzać”. Po pracy usuń firmową pocztę z ekranu głównego telefonu. "
            "Jako menedżer nie wysyłaj wiadomości wieczorem: zaplanuj wysyłkę na rano, bo "
            "zespół odczytuje Twoje godziny jako oczekiwanie.",
        ),
        "en": (
            "Digital hygiene: notifications under control",
            "Every notification costs a few minutes of getting back into your work. Turn off "
            "sounds and banners for email and keep them only for messages from your direct "
            "colleagues. Book two 90-minute focus blocks in your calendar and set your Teams "
            "status to Do not disturb. After work, move the company mail app off your phone's "
            "home screen. As a manager, don't send messages in the evening: schedule them for "
            "the morning, because your team reads your hours as an expectation.",
        ),
        "questions": [
            ("en", "How can I stop email notifications from breaking my concentration?"),
            ("ru", "Почему руководителю не стоит писать сотрудникам поздно вечером?"),
        ],
    },
    {
        "id": "g07",
        "kept": "en",
        "tags": ["teams", "collaboration"],
        "pl": (
            "Kanały w Teams zamiast łańcuszków maili",
            "Decyzje zespołu giną w skrzynkach. Załóż w Teams kanał dla każdego projektu i "
            "umówcie się, że pytania o projekt padają tam, a nie w mailach. Pisz wątkami: "
            "jeden temat to jeden wątek z jasnym tytułem. Decyzję oznaczaj na końcu wątku "
            "słowem „USTALONE” i przypnij ją. Maile zostaw dla kontaktu z osobami spoza firmy. "
            "Po miesiącu nowa osoba w zespole znajdzie historię projektu w jednym miejscu.",
        ),
        "en": (
            "Teams channels instead of email chains",
            "Team decisions get lost in inboxes. Create a Teams channel for each project and "
            "agree that questions about the project go there, not into email. Write in "
            "threads: one topic, one thread with a clear title. Mark the decision at the end "
            "of the thread with the word AGREED and pin it. Keep email for people outside the "
            "company. After a month, a newcomer finds the project history in one place.",
        ),
        "questions": [
            ("pl", "Jak przenieść dyskusje projektowe z maili do Teams?"),
            ("ru", "Как сделать так, чтобы решения команды не терялись в почте?"),
            ("pl", "Gdzie nowa osoba w zespole znajdzie historię ustaleń projektu?"),
        ],
    },
    {
        "id": "g08",
        "kept": "en",
        "tags": ["social media", "video"],
        "pl": (
            "Krótkie wideo dla employer brandingu",
            "Nie potrzebujesz studia. Telefon trzymany pionowo, światło z okna i mikrofon "
            "krawatowy za kilkadziesiąt złotych wystarczą. Pierwsze dwie sekundy decydują, "
            "czy ktoś zostanie: zacznij od pytania albo efektu, nie od przedstawiania się. "
            "Pokazuj prawdziwych ludzi przy prawdziwej pracy, a nie hasła z folderu. Dodaj "
            "napisy, bo większość ogląda bez dźwięku. Nagrywajcie serię: jeden format co "
            "tydzień działa lepiej niż jedna droga produkcja.",
        ),
        "en": (
            "Short video for employer branding",
            "You don't need a studio. A phone held vertically, light from a window and a "
            "cheap clip-on microphone are enough. The first two seconds decide whether "
            "someone stays: open with a question or a result, not with introducing yourself. "
            "Show real people doing real work, not slogans from a brochure. Add captions, "
            "because most people watch without sound. Record a series: one format every week "
            "works better than one expensive production.",
        ),
        "questions": [
            ("pl", "Jaki sprzęt jest potrzebny do nagrania filmiku na TikToka o naszej firmie?"),
            ("pl", "Dlaczego w krótkich filmach warto dodawać napisy?"),
            ("ru", "С чего начинать короткое видео, чтобы зритель не пролистал его?"),
        ],
    },
    {
        "id": "g09",
        "kept": "en",
        "tags": ["ai", "prompts"],
        "pl": (
            "Prompt z kontekstem i przykładem",
            "Czatbot odpowiada ogólnikami, kiedy dostaje ogólne polecenie. Opisz, kim jest "
            "odbiorca, po co mu tekst i jaki ma mieć format: „tabela, pięć wierszy, bez "
            "żargonu”. Wklej jeden przykład tekstu, który Ci się podoba, i napisz, co w nim "
            "dobre. Jeśli wynik nie pasuje, nie zaczynaj od nowa: powiedz, co poprawić. "
            "Zapisuj prompty, które działają, w jednym pliku, żeby zespół mógł z nich korzystać.",
        ),
        "en": (
            "A prompt with context and an example",
            "A chatbot gives generic answers when it gets a generic instruction. Say who the "
            "reader is, what they need the text for and what format you want: a table, five "
            "rows, no jargon. Paste one example of a text you like and say what is good about "
            "it. If the result doesn't fit, don't start over: say what to fix. Keep the "
            "prompts that work in one shared file so the team can reuse them.",
        ),
        "questions": [
            ("pl", "Dlaczego ChatGPT daje mi ogólnikowe odpowiedzi i jak to poprawić?"),
            ("ru", "Стоит ли давать чат-боту пример текста, который мне нравится?"),
            ("pl", "Co zrobić, gdy odpowiedź czatbota nie pasuje do tego, czego potrzebuję?"),
        ],
    },
    {
        "id": "g10",
        "kept": "en",
        "tags": ["security", "ai"],
        "pl": (
            "Deepfake w telefonie od „prezesa”",
            "Głos da się dziś podrobić z kilkunastu sekund nagrania. Jeśli „prezes” dzwoni "
            "i prosi o pilny przelew albo zmianę numeru konta dostawcy, rozłącz się i "
            "oddzwoń na numer z firmowej książki adresowej. Ustalcie w zarządzie hasło "
            "kontrolne na takie sytuacje. Pośpiech i tajemnica to dwa sygnały ostrzegawcze. "
            "Zgłoś próbę do działu bezpieczeństwa, nawet jeśli nic się nie stało.",
        ),
        "en": (
            "Deepfake calls from the 'CEO'",
            "A voice can now be faked from a few seconds of recording. If the 'CEO' calls and "
            "asks for an urgent transfer or a change to a supplier's bank account, hang up and "
            "call back on the number from the company directory. Agree on a code word for such "
            "situations in the management team. Urgency and secrecy are the two warning signs. "
            "Report the attempt to the security team even if nothing happened.",
        ),
        "questions": [
            ("pl", "Co zrobić, gdy prezes dzwoni i każe pilnie zrobić przelew?"),
            ("ru", "Как распознать мошеннический звонок с подделанным голосом директора?"),
        ],
    },
    {
        "id": "g11",
        "kept": "en",
        "tags": ["power bi", "data"],
        "pl": (
            "Power BI: dashboard sprzedaży dla zespołu",
            "Zanim otworzysz Power BI, zapisz trzy pytania, na które dashboard ma odpowiadać, "
            "na przykład: jak idzie sprzedaż względem planu w tym miesiącu? Podłącz jedno "
            "źródło, choćby plik Excel na SharePoincie, i ustaw odświeżanie codziennie rano. "
            "Na górze umieść trzy liczby, niżej jeden wykres trendu, filtry z boku. Udostępnij "
            "raport w aplikacji, a nie jako plik. Po dwóch tygodniach zapytaj zespół, czego "
            "nie używa, i usuń to.",
        ),
        "en": (
            "Power BI: a sales dashboard for your team",
            "Before you open Power BI, write down three questions the dashboard must answer, "
            "for example: how are sales doing against plan this month? Connect one source, "
            "even an Excel file on SharePoint, and set it to refresh every morning. Put three "
            "numbers at the top, one trend chart below, filters at the side. Share the report "
            "as an app, not as a file. After two weeks ask the team what they don't use, and "
            "remove it.",
        ),
        "questions": [
            ("pl", "Od czego zacząć budowę dashboardu sprzedaży w Power BI?"),
            ("pl", "Jak ustawić codzienne odświeżanie danych z pliku Excel?"),
            ("ru", "Как лучше расположить показатели на дашборде продаж?"),
        ],
    },
    {
        "id": "g12",
        "kept": "en",
        "tags": ["hybrid work", "onboarding"],
        "pl": (
            "Wdrożenie nowej osoby w zespole hybrydowym",
            "Pierwszy tydzień nowej osoby zaplanuj tak, żeby co najmniej trzy dni była w biurze "
            "razem z opiekunem. Przygotuj listę ludzi, z którymi powinna porozmawiać w pierwszym "
            "miesiącu, i umów te rozmowy z wyprzedzeniem. Sprzęt i dostępy muszą działać "
            "pierwszego dnia. W pracy zdalnej umówcie codzienne piętnaście minut z opiekunem "
            "przez pierwsze dwa tygodnie. Po trzydziestu dniach zapytaj, co było najtrudniejsze.",
        ),
        "en": (
            "Onboarding a new hire in a hybrid team",
            "Plan a new person's first week so that they spend at least three days in the "
            "office with their buddy. Prepare a list of people they should meet in their first "
            "month and book those conversations in advance. Laptop and access rights must work "
            "on day one. When working remotely, set up a daily fifteen minutes with the buddy "
            "for the first two weeks. After thirty days, ask what was hardest.",
        ),
        "questions": [
            ("pl", "Jak wdrożyć nowego pracownika, gdy zespół pracuje hybrydowo?"),
            ("ru", "Что должно быть готово для нового сотрудника в первый день?"),
        ],
    },
]

# Guides whose questions form the dev split; the others' questions form the test split.
DEV_GUIDES = {"g01", "g03", "g05", "g07", "g09", "g11"}
