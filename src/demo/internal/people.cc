#include "demo/internal/people.h"

namespace ipa::demo::internal {
namespace {

using sv = std::string_view;

constexpr sv kDeFamily[] = {"Müller", "Schröder", "Weiß",  "Groß",     "Schäfer",
                            "Köhler", "Krüger",   "Jäger", "Hoffmann", "Fuchs"};
constexpr sv kDeFemale[] = {"Anna", "Sophie", "Lena", "Käthe", "Marlene", "Jördis"};
constexpr sv kDeMale[] = {"Jürgen", "Lukas", "Björn", "Günther", "Maximilian", "Jörg"};
constexpr City kDeCities[] = {{"Berlin", "10115"},
                              {"München", "80331"},
                              {"Köln", "50667"},
                              {"Düsseldorf", "40213"},
                              {"Nürnberg", "90402"}};
constexpr sv kDeStreets[] = {"Hauptstraße", "Schloßallee", "Gartenweg", "Bahnhofstraße",
                             "Lindenstraße"};

constexpr sv kFrFamily[] = {"Lefèvre", "Dubois",   "Girard",   "Fontaine", "Béranger",
                            "Mercier", "Lemaître", "Rousseau", "Faure",    "Gagné"};
constexpr sv kFrFemale[] = {"Chloé", "Hélène", "Élodie", "Léa", "Margaux", "Amélie"};
constexpr sv kFrMale[] = {"François", "Jérôme", "Loïc", "Théo", "Cédric", "Noël"};
constexpr City kFrCities[] = {{"Paris", "75005"},
                              {"Lyon", "69002"},
                              {"Marseille", "13001"},
                              {"Nîmes", "30000"},
                              {"Besançon", "25000"}};
constexpr sv kFrStreets[] = {"rue des Écoles", "avenue Jean-Jaurès", "boulevard Saint-Michel",
                             "rue Émile-Zola", "place du Marché"};

constexpr sv kPlFamily[] = {"Nowak",    "Wójcik", "Kowalczyk", "Woźniak", "Mazur",
                            "Krawczyk", "Król",   "Gołąb",     "Żak",     "Łuczak"};
constexpr sv kPlFemale[] = {"Małgorzata", "Agnieszka", "Zofia", "Katarzyna", "Łucja", "Jadwiga"};
constexpr sv kPlMale[] = {"Łukasz", "Paweł", "Michał", "Wojciech", "Zbigniew", "Jędrzej"};
constexpr City kPlCities[] = {{"Warszawa", "00-950"},
                              {"Kraków", "31-001"},
                              {"Łódź", "90-001"},
                              {"Wrocław", "50-001"},
                              {"Gdańsk", "80-001"}};
constexpr sv kPlStreets[] = {"ul. Marszałkowska", "ul. Długa", "ul. Świętokrzyska", "ul. Piękna",
                             "ul. Żelazna"};

constexpr sv kNoFamily[] = {"Hansen", "Johansen", "Ødegård", "Sæther", "Løvås",
                            "Bråten", "Haugen",   "Strøm",   "Næss",   "Aasen"};
constexpr sv kNoFemale[] = {"Ingrid", "Åse", "Solveig", "Kari", "Bjørg", "Sigrid"};
constexpr sv kNoMale[] = {"Øyvind", "Bjørn", "Håkon", "Ståle", "Magnus", "Pål"};
constexpr City kNoCities[] = {{"Oslo", "0150"},
                              {"Bergen", "5003"},
                              {"Trondheim", "7010"},
                              {"Tromsø", "9008"},
                              {"Bodø", "8006"}};
constexpr sv kNoStreets[] = {"Storgata", "Kirkeveien", "Fjordgata", "Strandgata", "Skolegata"};

constexpr sv kEsFamily[] = {"García",  "Rodríguez", "Fernández", "López", "Martínez",
                            "Sánchez", "Pérez",     "Gómez",     "Muñoz", "Ibáñez"};
constexpr sv kEsFemale[] = {"María", "Lucía", "Inés", "Begoña", "Mónica", "Ángela"};
constexpr sv kEsMale[] = {"José", "Jesús", "Álvaro", "Andrés", "Rubén", "Íñigo"};
constexpr City kEsCities[] = {{"Madrid", "28013"},
                              {"Sevilla", "41004"},
                              {"Málaga", "29015"},
                              {"Córdoba", "14003"},
                              {"A Coruña", "15001"}};
constexpr sv kEsStreets[] = {"Calle Mayor", "Avenida de la Constitución", "Calle de Alcalá",
                             "Plaza de España", "Calle Núñez de Balboa"};

constexpr sv kViFamily[] = {"Nguyễn", "Trần", "Lê",  "Phạm", "Hoàng",
                            "Vũ",     "Đặng", "Bùi", "Đỗ",   "Huỳnh"};
constexpr sv kViFemale[] = {"Hương", "Lan", "Ngọc", "Thảo", "Mai", "Phương"};
constexpr sv kViMale[] = {"Minh", "Dũng", "Quang", "Tuấn", "Đức", "Hùng"};
constexpr City kViCities[] = {{"Hà Nội", "100000"},
                              {"Thành phố Hồ Chí Minh", "700000"},
                              {"Đà Nẵng", "550000"},
                              {"Huế", "530000"},
                              {"Hải Phòng", "180000"}};
constexpr sv kViStreets[] = {"Đường Lê Lợi", "Phố Hàng Bạc", "Đường Trần Hưng Đạo", "Phố Huế",
                             "Đường Nguyễn Huệ"};

constexpr sv kPtFamily[] = {"Silva",  "Gonçalves", "Conceição", "Araújo", "Magalhães",
                            "Simões", "Brandão",   "Pereira",   "Lima",   "Assunção"};
constexpr sv kPtFemale[] = {"Ana", "Mariana", "Leonor", "Inês", "Beatriz", "Luísa"};
constexpr sv kPtMale[] = {"João", "Tomás", "Sebastião", "Gonçalo", "Vinícius", "Caio"};
constexpr City kPtCities[] = {{"São Paulo", "01310-100"},
                              {"Brasília", "70040-010"},
                              {"Belém", "66010-000"},
                              {"Goiânia", "74003-010"},
                              {"Florianópolis", "88010-400"}};
constexpr sv kPtStreets[] = {"Rua Augusta", "Avenida Paulista", "Rua da Conceição", "Praça da Sé",
                             "Rua São João"};

constexpr sv kSvFamily[] = {"Andersson", "Söderberg", "Åkesson", "Ström",   "Lindqvist",
                            "Björk",     "Hägglund",  "Öberg",   "Sjögren", "Nyström"};
constexpr sv kSvFemale[] = {"Åsa", "Linnéa", "Märta", "Elin", "Karin", "Saga"};
constexpr sv kSvMale[] = {"Måns", "Göran", "Örjan", "Nils", "Erik", "Anders"};
constexpr City kSvCities[] = {{"Stockholm", "111 20"},
                              {"Göteborg", "411 01"},
                              {"Malmö", "211 20"},
                              {"Umeå", "903 25"},
                              {"Västerås", "722 11"}};
constexpr sv kSvStreets[] = {"Drottninggatan", "Storgatan", "Kungsgatan", "Södra vägen",
                             "Ängsvägen"};

constexpr sv kTrFamily[] = {"Yılmaz", "Şahin", "Çelik",  "Öztürk", "Aydın",
                            "Doğan",  "Kılıç", "Arslan", "Güneş",  "Işık"};
constexpr sv kTrFemale[] = {"Ayşe", "Elif", "Zeynep", "Büşra", "Gülşen", "İpek"};
constexpr sv kTrMale[] = {"Mehmet", "İbrahim", "Çağrı", "Oğuz", "Ömer", "Uğur"};
constexpr City kTrCities[] = {{"İstanbul", "34000"},
                              {"Ankara", "06000"},
                              {"İzmir", "35000"},
                              {"Eskişehir", "26000"},
                              {"Muğla", "48000"}};
constexpr sv kTrStreets[] = {"Atatürk Caddesi", "İstiklal Caddesi", "Cumhuriyet Sokak", "Gül Sokak",
                             "Bağdat Caddesi"};

constexpr sv kGbFamily[] = {"Smith", "O'Brien",  "Taylor",   "Brown",      "Wilson",
                            "Evans", "McDonald", "Thompson", "Ní Bhriain", "Davies"};
constexpr sv kGbFemale[] = {"Olivia", "Siobhán", "Emily", "Charlotte", "Zoë", "Amelia"};
constexpr sv kGbMale[] = {"Oliver", "Seán", "Harry", "George", "Rhys", "James"};
constexpr City kGbCities[] = {{"London", "SW1A 1AA"},
                              {"Manchester", "M1 1AE"},
                              {"Edinburgh", "EH1 1YZ"},
                              {"Cardiff", "CF10 1EP"},
                              {"Belfast", "BT1 5GS"}};
constexpr sv kGbStreets[] = {"High Street", "Station Road", "Church Lane", "Victoria Road",
                             "Mill Lane"};

constexpr sv kJaFamily[] = {"佐藤", "鈴木", "高橋", "田中", "渡辺",
                            "伊藤", "山本", "中村", "小林", "加藤"};
constexpr sv kJaFemale[] = {"花子", "美咲", "陽菜", "結衣", "さくら", "恵子"};
constexpr sv kJaMale[] = {"太郎", "翔太", "大輝", "健一", "蓮", "誠"};
constexpr City kJaCities[] = {{"東京都千代田区", "100-0005"},
                              {"大阪市北区", "530-0001"},
                              {"京都市下京区", "600-8216"},
                              {"札幌市中央区", "060-0001"},
                              {"福岡市博多区", "812-0011"}};
constexpr sv kJaStreets[] = {"丸の内", "梅田", "烏丸通", "大通西", "博多駅前"};

constexpr Locale kLocales[] = {
    {"DE", "de", "German", "+49 30 ", false, false, kDeFamily, kDeFemale, kDeMale, kDeCities,
     kDeStreets},
    {"FR", "fr", "French", "+33 1 ", false, true, kFrFamily, kFrFemale, kFrMale, kFrCities,
     kFrStreets},
    {"PL", "pl", "Polish", "+48 22 ", false, false, kPlFamily, kPlFemale, kPlMale, kPlCities,
     kPlStreets},
    {"NO", "nb", "Norwegian Bokmål", "+47 22 ", false, false, kNoFamily, kNoFemale, kNoMale,
     kNoCities, kNoStreets},
    {"ES", "es", "Spanish", "+34 91 ", false, false, kEsFamily, kEsFemale, kEsMale, kEsCities,
     kEsStreets},
    {"VN", "vi", "Vietnamese", "+84 24 ", true, true, kViFamily, kViFemale, kViMale, kViCities,
     kViStreets},
    {"BR", "pt-BR", "Portuguese (Brazil)", "+55 11 ", false, false, kPtFamily, kPtFemale, kPtMale,
     kPtCities, kPtStreets},
    {"SE", "sv", "Swedish", "+46 8 ", false, false, kSvFamily, kSvFemale, kSvMale, kSvCities,
     kSvStreets},
    {"TR", "tr", "Turkish", "+90 212 ", false, false, kTrFamily, kTrFemale, kTrMale, kTrCities,
     kTrStreets},
    {"GB", "en-GB", "English (United Kingdom)", "+44 20 ", false, true, kGbFamily, kGbFemale,
     kGbMale, kGbCities, kGbStreets},
    {"JP", "ja", "Japanese", "+81 3 ", true, false, kJaFamily, kJaFemale, kJaMale, kJaCities,
     kJaStreets},
};

}  // namespace

std::span<const Locale> locales() { return kLocales; }

}  // namespace ipa::demo::internal
