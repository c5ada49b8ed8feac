package search_test

// corpusDoc is one document of the relevance corpus: short texts on
// distinct topics, written for these tests.
type corpusDoc struct {
	id, title, topic, text string
}

var corpus = []corpusDoc{
	{"bread", "Sourdough at home", "food", "Mix flour, water and a lively starter, then let the dough ferment overnight. Fold it every half hour at first so the gluten develops, shape a tight loaf and bake it in a covered pot until the crust turns deep brown."},
	{"bees", "Keeping honeybees", "nature", "A beekeeper inspects the hive every week in spring, looking for the queen, eggs and capped brood. Swarming happens when the colony runs out of room, so add boxes before the nectar flow begins."},
	{"tires", "Changing a flat tire", "cars", "Loosen the lug nuts before lifting the car with the jack, then raise it until the wheel clears the ground. Swap in the spare wheel, tighten the nuts in a star pattern and check the pressure soon after."},
	{"volcano", "How volcanoes erupt", "science", "Magma rises through cracks in the crust because it is lighter than the rock around it. Dissolved gases expand as the pressure drops, and when they escape violently the mountain explodes in ash and lava."},
	{"chess", "Opening principles in chess", "games", "Control the centre squares early, develop knights and bishops before moving the queen, and castle to protect the king. Moving the same piece twice in the opening usually wastes time."},
	{"tax", "Filing income tax returns", "money", "Gather your salary statements and receipts for deductible expenses before the deadline. Self-employed people must also declare their business income and may pay in quarterly instalments."},
	{"knit", "Knitting a scarf", "crafts", "Cast on forty stitches with thick wool and knit every row in garter stitch. When the scarf is long enough, bind off loosely and weave the loose ends into the fabric with a blunt needle."},
	{"sleep", "Better sleep habits", "health", "Go to bed and wake up at the same hour every day, keep the bedroom dark and cool, and avoid caffeine in the afternoon. Screens late in the evening delay the body's release of melatonin."},
	{"git", "Undoing a git commit", "software", "To take back the last commit but keep its changes, reset the branch to the previous commit with the soft option. If the commit was already pushed, revert it instead so shared history is not rewritten."},
	{"whale", "Migration of humpback whales", "nature", "Humpbacks spend summer feeding on krill in cold polar seas and swim thousands of kilometres to warm tropical waters in winter to give birth. Males sing long complex songs during the breeding season."},
	{"coffee", "Brewing espresso", "food", "Grind the beans finely, pack about eighteen grams into the portafilter and tamp evenly. Water near ninety degrees pushed through at nine bar should yield a double shot in roughly twenty-five seconds."},
	{"roman", "Fall of the Western Roman Empire", "history", "Economic decline, civil wars and pressure from Germanic tribes weakened the western empire. In 476 the last emperor in Rome was deposed by Odoacer, a date often taken as the end of antiquity."},
	{"solar", "Installing solar panels", "energy", "Photovoltaic panels on a south-facing roof convert sunlight into direct current, and an inverter turns it into household alternating current. Surplus electricity can charge a battery or be fed back to the grid."},
	{"guitar", "Tuning a guitar", "music", "Standard tuning from the lowest string is E, A, D, G, B and E. Tune the low string to a reference pitch, then match each next string at the fifth fret, except the B string which is matched at the fourth."},
	{"vaccine", "How vaccines work", "health", "A vaccine shows the immune system a harmless piece or weakened form of a pathogen. White blood cells learn to recognise it and keep memory cells, so a later real infection is fought off quickly."},
	{"mortgage", "Choosing a home loan", "money", "A fixed-rate mortgage keeps the same interest for the whole term, while a variable rate follows the central bank. A larger down payment lowers the monthly repayments and the total interest paid."},
	{"moon", "Phases of the Moon", "science", "The Moon does not make its own light; we see the half lit by the Sun. As it orbits Earth over about twenty-nine days, the lit part we can see grows from new moon to full moon and shrinks again."},
	{"dog", "House-training a puppy", "pets", "Take the puppy outside after every meal, nap and play session, always to the same spot, and praise it the moment it does its business there. Never punish accidents indoors; clean them with an enzyme cleaner."},
	{"python", "Python virtual environments", "software", "Create an isolated environment with python -m venv, activate it, and install packages with pip so each project keeps its own dependency versions without touching the system interpreter."},
	{"marathon", "Training for a marathon", "sport", "Build weekly mileage slowly over four months, with one long run each weekend that grows to about thirty kilometres. Taper in the last three weeks so the legs are fresh on race day."},
	{"tea", "Green tea preparation", "food", "Use water well below boiling, around seventy to eighty degrees, and steep the leaves for only one to two minutes. Hotter water or longer steeping makes green tea taste bitter."},
	{"rust", "Preventing rust on tools", "home", "Iron corrodes when moisture and oxygen reach bare metal. Wipe tools dry after use, keep them in a dry shed, and coat the blades with a thin film of oil before storing them for winter."},
	{"photos", "Exposure in photography", "arts", "Aperture, shutter speed and ISO together set how bright a photograph is. A wide aperture blurs the background, a fast shutter freezes motion, and a high ISO brightens dark scenes at the cost of noise."},
	{"plants", "Photosynthesis", "science", "Green plants capture light with chlorophyll and use its energy to turn carbon dioxide and water into glucose, releasing oxygen as a by-product. This happens mainly in the leaves."},
	{"wifi", "Fixing slow Wi-Fi", "tech", "Place the router high and central, away from microwaves and thick walls, and switch to a less crowded channel. Restarting the router and updating its firmware often restores the lost speed."},
	{"compost", "Making garden compost", "garden", "Pile green kitchen scraps and brown dry leaves in roughly equal amounts, keep the heap as damp as a wrung-out sponge and turn it every few weeks. In a few months it becomes dark crumbly soil food."},
	{"pyramids", "Building the Egyptian pyramids", "history", "Workers quarried limestone blocks, dragged them on sledges over wetted sand and raised them along ramps. The great pyramid at Giza was built as a tomb for the pharaoh Khufu around 2560 BC."},
	{"cpr", "Giving CPR", "health", "If an adult is unresponsive and not breathing, call emergency services and push hard and fast in the centre of the chest, about a hundred to a hundred and twenty compressions a minute, until help arrives."},
	{"stars", "Life cycle of stars", "science", "Stars fuse hydrogen into helium in their cores for most of their lives. A star like the Sun swells into a red giant and ends as a white dwarf, while much heavier stars explode as supernovae."},
	{"budget", "Making a household budget", "money", "List your monthly income, then every fixed cost such as rent and insurance, and track variable spending for a month. Set aside savings first and give every remaining euro a purpose."},
}

// paraphrases are queries that share few words with their answer.
var paraphrases = []struct{ query, want string }{
	{"my car has a puncture and I need to put on the reserve one", "tires"},
	{"how do I get my newborn dog to stop peeing inside", "dog"},
	{"why does a mountain blow up and spit molten rock", "volcano"},
	{"insects that make honey in a wooden box", "bees"},
	{"trouble falling asleep at night", "sleep"},
	{"which strings should an acoustic six-string instrument be set to", "guitar"},
	{"immunisation teaches the body to defend itself against germs", "vaccine"},
	{"borrowing money to buy a house", "mortgage"},
	{"my wireless internet connection is sluggish", "wifi"},
	{"how leaves turn sunshine into sugar", "plants"},
	{"what happens to the sun when it gets old", "stars"},
	{"reviving someone whose heart stopped", "cpr"},
	{"turning kitchen waste into fertiliser", "compost"},
	{"making a long woollen neck warmer with two needles", "knit"},
	{"preparing for a forty-two kilometre race", "marathon"},
}

// exactTerms are queries whose words appear in their answer.
var exactTerms = []struct{ query, want string }{
	{"Odoacer", "roman"},
	{"portafilter tamp", "coffee"},
	{"krill humpbacks", "whale"},
	{"lug nuts", "tires"},
	{"venv pip", "python"},
	{"melatonin", "sleep"},
	{"Khufu Giza", "pyramids"},
}
